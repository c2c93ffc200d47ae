//! The gRPC methods an encoded `FileDescriptorSet` describes, as `/package.Service/Method` paths.

use std::fmt;

use prost::Message;
use prost_types::FileDescriptorSet;

/// An encoded `FileDescriptorSet` that could not be decoded.
#[derive(Debug)]
pub struct GrpcDescriptorError(String);

impl fmt::Display for GrpcDescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an encoded FileDescriptorSet: {}", self.0)
    }
}

impl std::error::Error for GrpcDescriptorError {}

pub(crate) fn methods(encoded: &[u8]) -> Result<Vec<String>, GrpcDescriptorError> {
    let set = FileDescriptorSet::decode(encoded).map_err(|e| GrpcDescriptorError(e.to_string()))?;
    let mut paths = Vec::new();
    for file in &set.file {
        let package = file.package();
        for service in &file.service {
            let service_name = match package {
                "" => service.name().to_owned(),
                package => format!("{package}.{}", service.name()),
            };
            for method in &service.method {
                paths.push(format!("/{service_name}/{}", method.name()));
            }
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto};

    #[test]
    fn methods_of_every_service() {
        let method = |name: &str| MethodDescriptorProto {
            name: Some(name.into()),
            ..Default::default()
        };
        let set = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                package: Some("inference".into()),
                service: vec![ServiceDescriptorProto {
                    name: Some("GRPCInferenceService".into()),
                    method: vec![method("ModelInfer"), method("ServerLive")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert_eq!(
            methods(&set.encode_to_vec()).unwrap(),
            [
                "/inference.GRPCInferenceService/ModelInfer",
                "/inference.GRPCInferenceService/ServerLive"
            ]
        );
        assert!(methods(b"\xff\xff\xff").is_err());
    }
}
