//! The gRPC methods an encoded `FileDescriptorSet` describes, as `/package.Service/Method` paths, and which of
//! them name a model in their request.

use std::collections::HashSet;
use std::fmt;

use prost::Message;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// An encoded `FileDescriptorSet` that could not be decoded.
pub struct GrpcDescriptorError(String);

impl fmt::Display for GrpcDescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an encoded FileDescriptorSet: {}", self.0)
    }
}

debug_is_display!(GrpcDescriptorError);

impl std::error::Error for GrpcDescriptorError {}

/// Request fields that name the model a call is for (KServe v2's `model_name`, TF Serving's `model_spec`, ...).
const MODEL_FIELDS: &[&str] = &["model", "model_name", "model_id", "model_spec"];

/// A served method, and whether its request message has a field naming a model.
pub(crate) struct ServedMethod {
    pub(crate) path: String,
    pub(crate) names_model: bool,
}

pub(crate) fn methods(encoded: &[u8]) -> Result<Vec<ServedMethod>, GrpcDescriptorError> {
    let set = FileDescriptorSet::decode(encoded).map_err(|e| GrpcDescriptorError(e.to_string()))?;
    let mut naming_model = HashSet::new();
    for file in &set.file {
        let prefix = match file.package() {
            "" => String::new(),
            package => format!(".{package}"),
        };
        collect_model_messages(&prefix, &file.message_type, &mut naming_model);
    }
    let mut methods = Vec::new();
    for file in &set.file {
        let package = file.package();
        for service in &file.service {
            let service_name = match package {
                "" => service.name().to_owned(),
                package => format!("{package}.{}", service.name()),
            };
            for method in &service.method {
                methods.push(ServedMethod {
                    path: format!("/{service_name}/{}", method.name()),
                    names_model: naming_model.contains(method.input_type()),
                });
            }
        }
    }
    Ok(methods)
}

/// The fully qualified names (`.package.Message`) of the messages, nested ones included, with a model field.
fn collect_model_messages(prefix: &str, messages: &[DescriptorProto], into: &mut HashSet<String>) {
    for message in messages {
        let name = format!("{prefix}.{}", message.name());
        if message.field.iter().any(|f| MODEL_FIELDS.contains(&f.name())) {
            into.insert(name.clone());
        }
        collect_model_messages(&name, &message.nested_type, into);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto};

    #[test]
    fn methods_of_every_service_and_whether_they_name_a_model() {
        let method = |name: &str, input: &str| MethodDescriptorProto {
            name: Some(name.into()),
            input_type: Some(input.into()),
            ..Default::default()
        };
        let message = |name: &str, field: &str| DescriptorProto {
            name: Some(name.into()),
            field: vec![FieldDescriptorProto {
                name: Some(field.into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let set = FileDescriptorSet {
            file: vec![FileDescriptorProto {
                package: Some("inference".into()),
                message_type: vec![
                    message("ModelInferRequest", "model_name"),
                    DescriptorProto {
                        nested_type: vec![message("Inner", "model")],
                        ..message("ServerLiveRequest", "verbose")
                    },
                ],
                service: vec![ServiceDescriptorProto {
                    name: Some("GRPCInferenceService".into()),
                    method: vec![
                        method("ModelInfer", ".inference.ModelInferRequest"),
                        method("ServerLive", ".inference.ServerLiveRequest"),
                        method("Nested", ".inference.ServerLiveRequest.Inner"),
                        method("Elsewhere", ".other.ModelInferRequest"),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let found: Vec<(String, bool)> = methods(&set.encode_to_vec())
            .unwrap()
            .into_iter()
            .map(|m| (m.path, m.names_model))
            .collect();
        let expected = [
            ("/inference.GRPCInferenceService/ModelInfer", true),
            ("/inference.GRPCInferenceService/ServerLive", false),
            ("/inference.GRPCInferenceService/Nested", true),
            ("/inference.GRPCInferenceService/Elsewhere", false),
        ];
        assert_eq!(found, expected.map(|(p, m)| (p.to_owned(), m)));
        assert!(methods(b"\xff\xff\xff").is_err());
    }
}
