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

    /// The rule written independently of `is_grpc_method_path`: `/` service `/` method, both non-empty and made of
    /// ASCII letters, digits, `_` and `.`, and nothing else.
    fn spec_method_path(path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        let identifier = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| matches!(c, 'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '.'))
        };
        segments.len() == 3 && segments[0].is_empty() && identifier(segments[1]) && identifier(segments[2])
    }

    use crate::test_edits::mutate;

    proptest::proptest! {
        /// Any path: no panic, and a method path exactly when the rule says so (both directions). Method paths and
        /// single edits of them make both outcomes common; arbitrary text covers the rest.
        #[test]
        fn any_path_is_safe(
            valid in "/[A-Za-z0-9_.]{1,20}/[A-Za-z0-9_.]{1,20}",
            at in proptest::prelude::any::<proptest::sample::Index>(),
            edit in 0u8..4,
            c in proptest::prop_oneof![
                proptest::sample::select(vec!['/', '.', '_', '-', ' ', 'a', 'Z', '0', 'é', '\0']),
                proptest::prelude::any::<char>(),
            ],
            path in "\\PC{0,100}",
        ) {
            proptest::prop_assert!(spec_method_path(&valid), "{:?}", valid);
            let mutated = mutate(&valid, at, edit, c);
            for candidate in [valid.as_str(), mutated.as_str(), path.as_str()] {
                proptest::prop_assert_eq!(is_grpc_method_path(candidate), spec_method_path(candidate), "{:?}", candidate);
            }
        }
    }
}
