//! The KServe v2 side, as Triton's clients speak it: `ModelInfer` for whole answers, and `ModelStreamInfer` with
//! `stream: true` for token streams (one response per token, the last marked `triton_final_response`).
//!
//! Invalid requests always go through `ModelInfer`: a decoupled stream reports a bad request in band
//! (`error_message`, RPC status OK), so only a unary call shows its error class in the server's metrics.

use std::error::Error as _;
use std::time::Instant;

use http::uri::PathAndQuery;
use inferwatch::classify::GrpcCode;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};
use tonic_prost::ProstCodec;

use crate::bytes_tensor::{decode_first_bytes, encode_bytes};
use crate::fault;
use crate::messages::{ModelInferRequest, ModelInferResponse, ModelStreamInferResponse, ParameterChoice, Tensor};
use crate::{Invalid, Mix, Record};

const MODEL_INFER: &str = "/inference.GRPCInferenceService/ModelInfer";
const MODEL_STREAM_INFER: &str = "/inference.GRPCInferenceService/ModelStreamInfer";

#[derive(Clone)]
pub struct Target {
    grpc: tonic::client::Grpc<Channel>,
}

impl Target {
    /// One lazily connected HTTP/2 channel: requests multiplex over it, and a server that is down shows up as
    /// `connection_error`s rather than a failed start.
    pub fn new(url: &str) -> Result<Self, String> {
        let endpoint = Endpoint::from_shared(url.to_string()).map_err(|e| format!("--url {url}: {e}"))?;
        Ok(Target {
            grpc: tonic::client::Grpc::new(endpoint.connect_lazy()),
        })
    }

    pub async fn send(&self, mix: Mix) -> Record {
        let started = Instant::now();
        let mut grpc = self.grpc.clone();
        if grpc.ready().await.is_err() {
            return Record::failed("connection_error");
        }
        let stream = mix.stream && mix.invalid.is_none();
        let mut request = Request::new(infer_request(&mix, stream));
        if mix.fault {
            request
                .metadata_mut()
                .insert(fault::HEADER, MetadataValue::from_static(fault::SERVER_ERROR));
        }
        if !stream {
            let codec = ProstCodec::<ModelInferRequest, ModelInferResponse>::default();
            return match grpc.unary(request, PathAndQuery::from_static(MODEL_INFER), codec).await {
                Err(status) => Record::failed(failure(&status)),
                Ok(response) => Record {
                    outcome: "ok",
                    latency: Some(started.elapsed()),
                    ttft: None,
                    // The toy's tokens are whitespace words; a whole answer carries no token count of its own.
                    output_tokens: text_output(&response.into_inner()).split_whitespace().count() as u64,
                    feedback: None,
                    usage: None,
                },
            };
        }

        let codec = ProstCodec::<ModelInferRequest, ModelStreamInferResponse>::default();
        let (metadata, extensions, message) = request.into_parts();
        let requests = Request::from_parts(metadata, extensions, tokio_stream::once(message));
        let mut responses = match grpc
            .streaming(requests, PathAndQuery::from_static(MODEL_STREAM_INFER), codec)
            .await
        {
            Ok(response) => response.into_inner(),
            Err(status) => return Record::failed(failure(&status)),
        };
        let (mut ttft, mut tokens, mut finished) = (None, 0, false);
        loop {
            match responses.message().await {
                Err(status) => return Record::failed(failure(&status)),
                Ok(None) if finished => break,
                Ok(None) => return Record::failed("unfinished_stream"),
                Ok(Some(reply)) => {
                    let Some(reply) = reply.infer_response.filter(|_| reply.error_message.is_empty()) else {
                        return Record::failed("in_band_error");
                    };
                    finished |= is_final(&reply);
                    if !text_output(&reply).is_empty() {
                        ttft.get_or_insert_with(|| started.elapsed());
                        tokens += 1;
                        if mix.hang_up {
                            // Dropping the stream resets it (RST_STREAM CANCEL): the server sees a client that left.
                            return Record::failed("hung_up");
                        }
                    }
                }
            }
        }
        Record {
            outcome: "ok",
            latency: Some(started.elapsed()),
            ttft,
            output_tokens: tokens,
            feedback: None,
            usage: None,
        }
    }
}

/// The client-side class of a failed call: the server's status code, split as inferwatch splits it, or a
/// transport failure.
fn failure(status: &Status) -> &'static str {
    if status.source().is_some() {
        return "connection_error";
    }
    GrpcCode::from_i32(status.code() as i32).outcome().as_str()
}

fn infer_request(mix: &Mix, stream: bool) -> ModelInferRequest {
    let tensor = |name: &str, datatype: &str| Tensor {
        name: name.into(),
        datatype: datatype.into(),
        shape: vec![1],
        ..Tensor::default()
    };
    let (mut inputs, mut raw) = (Vec::new(), Vec::new());
    if !matches!(mix.invalid, Some(Invalid::Malformed)) {
        inputs.push(tensor("text_input", "BYTES"));
        raw.push(encode_bytes(&mix.prompt));
    }
    let max_tokens = match mix.invalid {
        Some(Invalid::ZeroMaxTokens) => 0,
        _ => mix.max_tokens as i32,
    };
    inputs.push(tensor("max_tokens", "INT32"));
    raw.push(max_tokens.to_le_bytes().to_vec());
    if stream {
        inputs.push(tensor("stream", "BOOL"));
        raw.push(vec![1]);
    }
    let model_name = match mix.invalid {
        Some(Invalid::UnknownModel) => "no-such-model".to_string(),
        _ => mix.model.clone(),
    };
    ModelInferRequest {
        model_name,
        inputs,
        raw_input_contents: raw,
        ..ModelInferRequest::default()
    }
}

/// The `text_output` of a response, from its raw contents or its typed ones.
fn text_output(response: &ModelInferResponse) -> String {
    let Some(i) = response.outputs.iter().position(|o| o.name == "text_output") else {
        return String::new();
    };
    let element = match response.raw_output_contents.get(i) {
        Some(raw) => decode_first_bytes(raw),
        None => response.outputs[i]
            .contents
            .as_ref()
            .and_then(|c| c.bytes_contents.first().cloned()),
    };
    String::from_utf8_lossy(&element.unwrap_or_default()).into_owned()
}

/// Whether a stream response is the last of its request (Triton's decoupled convention).
fn is_final(response: &ModelInferResponse) -> bool {
    matches!(
        response
            .parameters
            .get("triton_final_response")
            .and_then(|p| p.parameter_choice.as_ref()),
        Some(ParameterChoice::BoolParam(true))
    )
}
