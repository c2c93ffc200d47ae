//! `inference.GRPCInferenceService`: the routing tonic's codegen would emit, and the toy model behind it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use inferwatch::{FinishReason, InferenceRequestExt, RequestHandle, operation, stage_name};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, StreamingService, UnaryService};
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use crate::bytes_tensor::{decode_first_bytes, encode_bytes};
use crate::engine::{Engine, Generation, QueueFull};
use crate::fault::{self, Fault};
use crate::messages::*;

pub const SERVICE: &str = "inference.GRPCInferenceService";

fn fault_requested(metadata: &tonic::metadata::MetadataMap) -> Option<Fault> {
    fault::requested(metadata.get(fault::HEADER).map(|v| v.as_bytes()))
}

fn injected_fault() -> Status {
    tracing::error!("injected fault: failing the request");
    Status::internal("injected fault (x-inferwatch-fault: server-error)")
}

#[derive(Clone)]
pub struct InferenceServer {
    /// One engine per served model (queue, batch, cache).
    pub engines: Arc<HashMap<String, Engine>>,
}

fn queue_full() -> Status {
    Status::resource_exhausted("the engine's queue is full (--queue-capacity); retry later")
}

impl NamedService for InferenceServer {
    const NAME: &'static str = SERVICE;
}

/// A unary method as a closure returning a future.
struct Unary<F>(F);

impl<Req, Resp, F, Fut> UnaryService<Req> for Unary<F>
where
    F: FnMut(Request<Req>) -> Fut,
    Fut: std::future::Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;
    fn call(&mut self, request: Request<Req>) -> Self::Future {
        Box::pin((self.0)(request))
    }
}

/// What a request asks for: its `text_input`, `stream` and `max_tokens` inputs, raw or typed.
struct Ask {
    text: String,
    stream: bool,
    max_tokens: u32,
}

fn read_inputs(request: &ModelInferRequest) -> Result<Ask, Status> {
    let mut ask = Ask {
        text: String::new(),
        stream: false,
        max_tokens: 16,
    };
    let mut found_text = false;
    for (i, input) in request.inputs.iter().enumerate() {
        let raw = request.raw_input_contents.get(i);
        let contents = input.contents.clone().unwrap_or_default();
        match input.name.as_str() {
            "text_input" => {
                let bytes = match raw {
                    Some(raw) => decode_first_bytes(raw),
                    None => contents.bytes_contents.first().cloned(),
                };
                let bytes = bytes.ok_or_else(|| Status::invalid_argument("text_input: expected one BYTES element"))?;
                ask.text = String::from_utf8(bytes).map_err(|_| Status::invalid_argument("text_input is not UTF-8"))?;
                found_text = true;
            }
            "stream" => {
                ask.stream = match raw {
                    Some(raw) => raw.first().is_some_and(|b| *b != 0),
                    None => contents.bool_contents.first().copied().unwrap_or(false),
                };
            }
            "max_tokens" => {
                let n = match raw {
                    Some(raw) => raw.get(..4).and_then(|b| b.try_into().ok()).map(i32::from_le_bytes),
                    None => contents.int_contents.first().copied(),
                };
                let n = n.ok_or_else(|| Status::invalid_argument("max_tokens: expected one INT32 element"))?;
                ask.max_tokens = u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=4096).contains(n))
                    .ok_or_else(|| Status::invalid_argument("max_tokens must be between 1 and 4096"))?;
            }
            other => return Err(Status::invalid_argument(format!("unknown input {other}"))),
        }
    }
    if !found_text {
        return Err(Status::invalid_argument("missing input text_input"));
    }
    Ok(ask)
}

fn response(model: &str, id: &str, text: &str, final_response: Option<bool>) -> ModelInferResponse {
    let mut parameters = std::collections::HashMap::new();
    if let Some(last) = final_response {
        let value = InferParameter {
            parameter_choice: Some(ParameterChoice::BoolParam(last)),
        };
        parameters.insert("triton_final_response".to_string(), value);
    }
    ModelInferResponse {
        model_name: model.to_string(),
        model_version: "1".into(),
        id: id.to_string(),
        parameters,
        outputs: vec![Tensor {
            name: "text_output".into(),
            datatype: "BYTES".into(),
            shape: vec![1],
            ..Tensor::default()
        }],
        raw_output_contents: vec![encode_bytes(text)],
    }
}

impl InferenceServer {
    fn serves(&self, name: &str) -> bool {
        self.engines.contains_key(name)
    }

    fn engine(&self, name: &str) -> Result<&Engine, Status> {
        self.engines
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown model {name}")))
    }

    fn check_model(&self, name: &str) -> Result<(), Status> {
        if self.serves(name) {
            Ok(())
        } else {
            Err(Status::not_found(format!("unknown model {name}")))
        }
    }

    /// Tokenizes and generates for one request; returns the prompt's tokens (reported once the engine admits the
    /// request: a refused one is not billed), the words and the finish reason.
    fn prepare(
        &self,
        handle: &RequestHandle,
        request: &ModelInferRequest,
    ) -> Result<(Ask, u64, Vec<String>, FinishReason), Status> {
        handle.set_model(&request.model_name);
        handle.set_operation(operation::TEXT_COMPLETION);
        self.check_model(&request.model_name)?;
        let ask = read_inputs(request)?;
        let input_tokens = {
            let _tokenize = handle.stage(stage_name::TOKENIZE).entered();
            crate::toy::count_tokens(&ask.text)
        };
        let (words, finish) = crate::toy::generate(&ask.text, ask.max_tokens);
        Ok((ask, input_tokens, words, finish))
    }

    fn infer(self, request: Request<ModelInferRequest>) -> BoxFuture<Response<ModelInferResponse>, Status> {
        Box::pin(async move {
            let handle = request.inference();
            let fault = fault_requested(request.metadata());
            let request = request.into_inner();
            let (_, input_tokens, words, finish) = self.prepare(&handle, &request)?;
            match fault {
                Some(Fault::ServerError) => return Err(injected_fault()),
                Some(Fault::Panic) => panic!("injected fault (x-inferwatch-fault: panic)"),
                None => {}
            }
            let engine = self.engine(&request.model_name)?;
            let mut generation = engine
                .submit(&handle, input_tokens, words.len() as u64)
                .map_err(|QueueFull| queue_full())?;
            handle.add_input_tokens(input_tokens);
            generation.scheduled().await;
            let tokens = handle.clone();
            let generated = async move {
                while generation.next_token().await {
                    tokens.mark_first_token();
                    tokens.add_output_tokens(1);
                }
            };
            handle.stage(stage_name::GENERATE).instrument(generated).await;
            handle.set_finish_reason(finish);
            let text = handle.stage(stage_name::DECODE).in_scope(|| words.concat());
            Ok(Response::new(response(&request.model_name, &request.id, &text, None)))
        })
    }

    /// Decoupled streaming, as Triton's LLM backends do it: one response per token, the last one marked with
    /// `triton_final_response`. A request without `stream` gets its whole text in one final response.
    fn stream_infer(self, request: Request<Streaming<ModelInferRequest>>) -> ResponseStream {
        let handle = request.inference();
        let fault = fault_requested(request.metadata());
        let requests = request.into_inner();
        let responses = requests.flat_map(move |request| {
            let (server, handle) = (self.clone(), handle.clone());
            let replies: ResponseStream = match request.map_err(|s| s.to_string()).and_then(|r| {
                server
                    .prepare(&handle, &r)
                    .map(|p| (r, p))
                    .map_err(|s| s.message().to_string())
            }) {
                Err(message) => {
                    let error = ModelStreamInferResponse {
                        error_message: message,
                        infer_response: None,
                    };
                    Box::pin(futures_util::stream::once(async move { Ok(error) }))
                }
                // An error item ends the whole call with that status, as a crashed backend would.
                Ok(_) if fault == Some(Fault::ServerError) => {
                    Box::pin(futures_util::stream::once(async { Err(injected_fault()) }))
                }
                Ok(_) if fault == Some(Fault::Panic) => panic!("injected fault (x-inferwatch-fault: panic)"),
                Ok((request, (ask, input_tokens, words, finish))) => {
                    let submitted = server.engine(&request.model_name).and_then(|engine| {
                        let submitted = engine.submit(&handle, input_tokens, words.len() as u64);
                        submitted.map_err(|QueueFull| queue_full())
                    });
                    match submitted {
                        Err(status) => Box::pin(futures_util::stream::once(async move { Err(status) })),
                        Ok(generation) => {
                            handle.add_input_tokens(input_tokens);
                            generated(generation, handle, request, ask.stream, words, finish)
                        }
                    }
                }
            };
            replies
        });
        Box::pin(responses)
    }
}

/// The replies to one request of a stream: a response per token as the engine produces them (the last marked
/// final), or with `stream` off one final response holding the whole text.
fn generated(
    generation: Generation,
    handle: RequestHandle,
    request: ModelInferRequest,
    stream: bool,
    words: Vec<String>,
    finish: FinishReason,
) -> ResponseStream {
    let count = words.len();
    let reply = move |handle: &RequestHandle, request: &ModelInferRequest, text: &str, last: bool| {
        if last {
            handle.set_finish_reason(finish);
        }
        Ok(ModelStreamInferResponse {
            error_message: String::new(),
            infer_response: Some(response(&request.model_name, &request.id, text, Some(last))),
        })
    };
    // The next word's index; `count + 1` once the final reply is out.
    let state = (generation, handle, request, words, 0usize);
    Box::pin(futures_util::stream::unfold(
        state,
        move |(mut generation, handle, request, words, i)| async move {
            if i > count || (stream && i == count) {
                return None;
            }
            if stream {
                if !generation.next_token().await {
                    return None;
                }
                handle.add_output_tokens(1);
                let item = reply(&handle, &request, &words[i], i + 1 == count);
                return Some((item, (generation, handle, request, words, i + 1)));
            }
            let mut n = 0;
            while generation.next_token().await {
                n += 1;
            }
            handle.add_output_tokens(n);
            let item = reply(&handle, &request, &words.concat(), true);
            Some((item, (generation, handle, request, words, count + 1)))
        },
    ))
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ModelStreamInferResponse, Status>> + Send>>;

struct Infer(InferenceServer);

impl UnaryService<ModelInferRequest> for Infer {
    type Response = ModelInferResponse;
    type Future = BoxFuture<Response<ModelInferResponse>, Status>;
    fn call(&mut self, request: Request<ModelInferRequest>) -> Self::Future {
        self.0.clone().infer(request)
    }
}

struct StreamInfer(InferenceServer);

impl StreamingService<ModelInferRequest> for StreamInfer {
    type Response = ModelStreamInferResponse;
    type ResponseStream = ResponseStream;
    type Future = BoxFuture<Response<ResponseStream>, Status>;
    fn call(&mut self, request: Request<Streaming<ModelInferRequest>>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move { Ok(Response::new(server.stream_infer(request))) })
    }
}

impl<B> Service<http::Request<B>> for InferenceServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let server = self.clone();
        let method = request
            .uri()
            .path()
            .strip_prefix("/inference.GRPCInferenceService/")
            .unwrap_or("");
        match method {
            "ServerLive" => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<LiveResponse, Empty>::default());
                Ok(grpc
                    .unary(
                        Unary(|_: Request<Empty>| async { Ok(Response::new(LiveResponse { live: true })) }),
                        request,
                    )
                    .await)
            }),
            "ServerReady" => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<ReadyResponse, Empty>::default());
                Ok(grpc
                    .unary(
                        Unary(|_: Request<Empty>| async { Ok(Response::new(ReadyResponse { ready: true })) }),
                        request,
                    )
                    .await)
            }),
            "ModelReady" => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<ReadyResponse, ModelRef>::default());
                let method = Unary(move |r: Request<ModelRef>| {
                    let ready = server.serves(&r.get_ref().name);
                    async move { Ok(Response::new(ReadyResponse { ready })) }
                });
                Ok(grpc.unary(method, request).await)
            }),
            "ModelMetadata" => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<ModelMetadataResponse, ModelRef>::default());
                let method = Unary(move |r: Request<ModelRef>| {
                    let name = &r.get_ref().name;
                    let found = server.check_model(name).map(|()| metadata(name));
                    async move { found.map(Response::new) }
                });
                Ok(grpc.unary(method, request).await)
            }),
            "ModelInfer" => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<ModelInferResponse, ModelInferRequest>::default());
                Ok(grpc.unary(Infer(server), request).await)
            }),
            "ModelStreamInfer" => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<ModelStreamInferResponse, ModelInferRequest>::default());
                Ok(grpc.streaming(StreamInfer(server), request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("not implemented by this example").into_http()) }),
        }
    }
}

fn metadata(model: &str) -> ModelMetadataResponse {
    let tensor = |name: &str, datatype: &str| TensorMetadata {
        name: name.into(),
        datatype: datatype.into(),
        shape: vec![1],
    };
    ModelMetadataResponse {
        name: model.to_string(),
        versions: vec!["1".into()],
        platform: "inferwatch-toy".into(),
        inputs: vec![
            tensor("text_input", "BYTES"),
            tensor("stream", "BOOL"),
            tensor("max_tokens", "INT32"),
        ],
        outputs: vec![tensor("text_output", "BYTES")],
    }
}
