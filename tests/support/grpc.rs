//! A small gRPC service written without protoc: prost messages and the routing tonic's codegen would emit.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::uri::PathAndQuery;
use inferwatch::InferenceRequestExt;
use tokio_stream::Stream;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::server::{Grpc, NamedService, ServerStreamingService, UnaryService};
use tonic::{Code, Request, Response, Status};
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, prost::Message)]
pub struct GenerateRequest {
    #[prost(string, tag = "1")]
    pub prompt: String,
    #[prost(string, tag = "2")]
    pub model: String,
    /// Messages to stream (server streaming only).
    #[prost(uint32, tag = "3")]
    pub tokens: u32,
    /// A gRPC code to fail with (0: succeed). Unary: before any message; streaming: after the messages.
    #[prost(int32, tag = "4")]
    pub fail_code: i32,
    #[prost(uint32, tag = "5")]
    pub delay_ms: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GenerateReply {
    #[prost(string, tag = "1")]
    pub text: String,
}

pub const UNARY: &str = "/test.v1.Generator/Generate";
pub const STREAM: &str = "/test.v1.Generator/GenerateStream";

#[derive(Clone, Default)]
pub struct Generator;

impl NamedService for Generator {
    const NAME: &'static str = "test.v1.Generator";
}

struct Unary;

impl UnaryService<GenerateRequest> for Unary {
    type Response = GenerateReply;
    type Future = BoxFuture<Response<GenerateReply>, Status>;

    fn call(&mut self, request: Request<GenerateRequest>) -> Self::Future {
        let handle = request.inference();
        Box::pin(async move {
            let r = request.into_inner();
            handle.set_model(&r.model);
            handle.set_operation("text_completion");
            handle.add_input_tokens(r.prompt.split_whitespace().count() as u64);
            if r.fail_code != 0 {
                return Err(Status::new(Code::from_i32(r.fail_code), "failed on request"));
            }
            handle.add_output_tokens(2);
            Ok(Response::new(GenerateReply {
                text: "hello world".into(),
            }))
        })
    }
}

struct Streaming;

type ReplyStream = Pin<Box<dyn Stream<Item = Result<GenerateReply, Status>> + Send>>;

impl ServerStreamingService<GenerateRequest> for Streaming {
    type Response = GenerateReply;
    type ResponseStream = ReplyStream;
    type Future = BoxFuture<Response<ReplyStream>, Status>;

    fn call(&mut self, request: Request<GenerateRequest>) -> Self::Future {
        let handle = request.inference();
        Box::pin(async move {
            let r = request.into_inner();
            handle.set_model(&r.model);
            handle.add_input_tokens(1);
            let stream = futures_util::stream::unfold(0u32, move |i| {
                let (handle, r) = (handle.clone(), r.clone());
                async move {
                    tokio::time::sleep(Duration::from_millis(u64::from(r.delay_ms))).await;
                    if i < r.tokens {
                        handle.add_output_tokens(1);
                        Some((Ok(GenerateReply { text: format!("t{i}") }), i + 1))
                    } else if i == r.tokens && r.fail_code != 0 {
                        Some((
                            Err(Status::new(Code::from_i32(r.fail_code), "failed mid-stream")),
                            i + 1,
                        ))
                    } else {
                        None
                    }
                }
            });
            Ok(Response::new(Box::pin(stream) as ReplyStream))
        })
    }
}

impl<B> Service<http::Request<B>> for Generator
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
        match request.uri().path() {
            UNARY => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<GenerateReply, GenerateRequest>::default());
                Ok(grpc.unary(Unary, request).await)
            }),
            STREAM => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<GenerateReply, GenerateRequest>::default());
                Ok(grpc.server_streaming(Streaming, request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// A loopback listener for a tonic server: its address, and the stream `serve_with_incoming` takes.
pub async fn listener() -> (SocketAddr, TcpListenerStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    (addr, TcpListenerStream::new(listener))
}

/// A channel connected to the server at `addr`.
pub async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

/// A client for [`Generator`] over a tonic channel.
#[derive(Clone)]
pub struct GeneratorClient {
    grpc: tonic::client::Grpc<tonic::transport::Channel>,
}

impl GeneratorClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self {
            grpc: tonic::client::Grpc::new(channel(addr).await),
        }
    }

    pub fn unary<P: Into<String>>(
        &self,
        path: P,
        request: GenerateRequest,
    ) -> impl Future<Output = Result<GenerateReply, Status>> + use<P> {
        let mut grpc = self.grpc.clone();
        let path = PathAndQuery::try_from(path.into()).expect("a path");
        async move {
            grpc.ready().await.map_err(|e| Status::unknown(e.to_string()))?;
            let codec = ProstCodec::<GenerateRequest, GenerateReply>::default();
            let reply = grpc.unary(Request::new(request), path, codec).await?;
            Ok(reply.into_inner())
        }
    }

    pub async fn stream(&self, request: GenerateRequest) -> Result<tonic::Streaming<GenerateReply>, Status> {
        let mut grpc = self.grpc.clone();
        grpc.ready().await.map_err(|e| Status::unknown(e.to_string()))?;
        let codec = ProstCodec::<GenerateRequest, GenerateReply>::default();
        let response = grpc
            .server_streaming(Request::new(request), PathAndQuery::from_static(STREAM), codec)
            .await?;
        Ok(response.into_inner())
    }
}
