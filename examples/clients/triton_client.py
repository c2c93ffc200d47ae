"""Calls examples/tonic_server with Triton's own gRPC client (tritonclient[grpc]), unmodified, and the standard
grpc.health.v1 client, and checks what comes back: liveness, readiness, metadata, one inference, a decoupled
token stream ending in triton_final_response, an unknown model, and health.

    cargo run --example tonic_server --features full &
    pip install 'tritonclient[grpc]' grpcio-health-checking grpcio-reflection
    python3 examples/clients/triton_client.py --url 127.0.0.1:50051
"""

import argparse
import queue

import grpc
import numpy as np
import tritonclient.grpc as triton
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from tritonclient.utils import InferenceServerException


def inputs(text: str, max_tokens: int, stream: bool) -> list:
    tensors = [
        triton.InferInput("text_input", [1], "BYTES"),
        triton.InferInput("max_tokens", [1], "INT32"),
        triton.InferInput("stream", [1], "BOOL"),
    ]
    tensors[0].set_data_from_numpy(np.array([text.encode()], dtype=object))
    tensors[1].set_data_from_numpy(np.array([max_tokens], dtype=np.int32))
    tensors[2].set_data_from_numpy(np.array([stream], dtype=bool))
    return tensors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="127.0.0.1:50051")
    args = parser.parse_args()
    client = triton.InferenceServerClient(url=args.url)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("toy") and not client.is_model_ready("nope")
    metadata = client.get_model_metadata("toy")
    assert [i.name for i in metadata.inputs] == ["text_input", "stream", "max_tokens"], metadata
    assert [o.name for o in metadata.outputs] == ["text_output"], metadata

    result = client.infer("toy", inputs("say hello to the world", 5, False))
    text = result.as_numpy("text_output")[0].decode()
    assert len(text.split()) == 5, text

    try:
        client.infer("nope", inputs("x", 1, False))
        raise AssertionError("unknown model accepted")
    except InferenceServerException as error:
        assert "unknown model" in error.message(), error

    responses: queue.Queue = queue.Queue()
    client.start_stream(callback=lambda result, error: responses.put((result, error)))
    client.async_stream_infer("toy", inputs("stream some words to me now", 4, True))
    pieces, final = [], False
    while not final:
        result, error = responses.get(timeout=10)
        assert error is None, error
        pieces.append(result.as_numpy("text_output")[0].decode())
        final = result.get_response().parameters["triton_final_response"].bool_param
    client.stop_stream()
    assert len(pieces) == 4 and len("".join(pieces).split()) == 4, pieces

    with grpc.insecure_channel(args.url) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", "inference.GRPCInferenceService"]:
            status = health.Check(health_pb2.HealthCheckRequest(service=service)).status
            assert status == health_pb2.HealthCheckResponse.SERVING, (service, status)
        # Server reflection: generic tools can list the service and resolve its messages.
        reflection = ProtoReflectionDescriptorDatabase(channel)
        services = reflection.get_services()
        assert "inference.GRPCInferenceService" in services and "grpc.health.v1.Health" in services, services
        pool = __import__("google.protobuf.descriptor_pool", fromlist=["DescriptorPool"]).DescriptorPool(reflection)
        method = pool.FindServiceByName("inference.GRPCInferenceService").FindMethodByName("ModelStreamInfer")
        assert method.output_type.fields_by_name["infer_response"].message_type.name == "ModelInferResponse"
    print(f"triton client: all checks passed ({text!r}; streamed {pieces})")


if __name__ == "__main__":
    main()
