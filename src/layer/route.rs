//! The route label of a request: the gRPC method path, axum's route template, or `_OTHER`.

use http::Request;

use crate::classify::Protocol;
use crate::labels::{BoundedLabels, LabelValue};

/// The route label, and whether the request calls a gRPC method the server does not serve (known only when the
/// served methods were declared).
pub(crate) fn route_of<B>(
    request: &Request<B>,
    protocol: Protocol,
    routes: &BoundedLabels,
    declared: bool,
) -> (LabelValue, bool) {
    if protocol == Protocol::Grpc {
        let path = request.uri().path();
        if declared {
            return match routes.existing(path) {
                Some(method) => (method.clone(), false),
                None => (routes.other(), true),
            };
        }
        let route = if is_grpc_method_path(path) {
            routes.get(path)
        } else {
            routes.other()
        };
        return (route, false);
    }
    #[cfg(feature = "axum")]
    if let Some(matched) = request.extensions().get::<axum::extract::MatchedPath>() {
        return (routes.get(matched.as_str()), false);
    }
    (routes.other(), false)
}

/// `/package.Service/Method`: two non-empty segments of identifier characters.
fn is_grpc_method_path(path: &str) -> bool {
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return false;
    };
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    ident(service) && ident(method)
}

#[cfg(test)]
mod tests {
    use super::is_grpc_method_path;

    #[test]
    fn grpc_paths() {
        assert!(is_grpc_method_path("/inference.GRPCInferenceService/ModelInfer"));
        assert!(!is_grpc_method_path("/inference.GRPCInferenceService/"));
        assert!(!is_grpc_method_path("/a/b/c"));
        assert!(!is_grpc_method_path("/a b/c"));
        assert!(!is_grpc_method_path("noslash"));
    }

    proptest::proptest! {
        /// Any path: no panic; a method path only when both segments are identifiers.
        #[test]
        fn any_path_is_safe(path in "\\PC{0,100}") {
            if is_grpc_method_path(&path) {
                proptest::prop_assert!(path.starts_with('/') && path.matches('/').count() == 2);
            }
        }
    }
}
