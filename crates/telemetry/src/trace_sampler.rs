//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, read here rather than by the SDK so that the same sampler
//! goes to the tracer provider and to the request observer, which decides before it builds a span.

use opentelemetry_sdk::trace::Sampler;

use inferwatch_core::observe::HeadSampler;

/// A sampler the environment named.
#[derive(Debug)]
pub(super) struct Configured {
    pub(super) head: HeadSampler,
    /// What was wrong with the variables, to be logged once the subscriber is up.
    pub(super) warning: Option<String>,
}

impl Configured {
    /// `parentbased_traceidratio` at `ratio` (already checked to lie in [0, 1]).
    pub(super) fn parent_based_ratio(ratio: f64) -> Self {
        Self {
            head: HeadSampler::parent_based(Sampler::TraceIdRatioBased(ratio)),
            warning: None,
        }
    }
}

/// The sampler `OTEL_TRACES_SAMPLER` names (default `parentbased_always_on`), as the OpenTelemetry specification
/// lists them; an unknown name or a ratio that is not a number in [0, 1] falls back to the default, with a warning.
pub(super) fn from_env(name: Option<&str>, arg: Option<&str>) -> Configured {
    let ratio = arg
        .map(str::trim)
        .and_then(|a| a.parse::<f64>().ok())
        .filter(|r| (0.0..=1.0).contains(r));
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let ratio_or_warn = |name: &str| match ratio {
        Some(r) => (Sampler::TraceIdRatioBased(r), None),
        None => (
            Sampler::TraceIdRatioBased(1.0),
            Some(format!(
                "OTEL_TRACES_SAMPLER={name} needs OTEL_TRACES_SAMPLER_ARG, a ratio from 0 to 1 (got {arg:?}); sampling every trace"
            )),
        ),
    };
    let (head, warning) = match name {
        None | Some("parentbased_always_on") => (HeadSampler::parent_based(Sampler::AlwaysOn), None),
        Some("always_on") => (HeadSampler::new(Sampler::AlwaysOn), None),
        Some("always_off") => (HeadSampler::new(Sampler::AlwaysOff), None),
        Some("parentbased_always_off") => (HeadSampler::parent_based(Sampler::AlwaysOff), None),
        Some(n @ "traceidratio") => {
            let (sampler, warning) = ratio_or_warn(n);
            (HeadSampler::new(sampler), warning)
        }
        Some(n @ "parentbased_traceidratio") => {
            let (root, warning) = ratio_or_warn(n);
            (HeadSampler::parent_based(root), warning)
        }
        Some(other) => (
            HeadSampler::parent_based(Sampler::AlwaysOn),
            Some(format!(
                "OTEL_TRACES_SAMPLER={other:?} is not a sampler inferwatch has; using parentbased_always_on"
            )),
        ),
    };
    Configured { head, warning }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampler named, and how it judges new traces (`roots` in the head sampler's `Debug`).
    fn judged(c: &Configured) -> (String, String) {
        let debug = format!("{:?}", c.head);
        let roots = debug
            .split("roots: ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap_or_default();
        (format!("{:?}", c.head.sampler()), roots.to_owned())
    }

    #[test]
    fn names_and_ratios() {
        let parent_based = |root: Sampler| format!("{:?}", Sampler::ParentBased(Box::new(root)));
        let c = from_env(None, None);
        assert!(c.warning.is_none());
        assert_eq!(judged(&c), (parent_based(Sampler::AlwaysOn), "Sampled".into()));
        let c = from_env(Some("parentbased_traceidratio"), Some(" 0.1 "));
        assert!(c.warning.is_none());
        assert_eq!(
            judged(&c),
            (parent_based(Sampler::TraceIdRatioBased(0.1)), "ByTraceId(0.1)".into())
        );
        let c = from_env(Some("traceidratio"), Some("1.5"));
        assert!(c.warning.is_some());
        assert_eq!(
            judged(&c),
            (
                format!("{:?}", Sampler::TraceIdRatioBased(1.0)),
                "ByTraceId(1.0)".into()
            )
        );
        let c = from_env(Some("always_off"), None);
        assert_eq!(judged(&c), (format!("{:?}", Sampler::AlwaysOff), "Other".into()));
        let c = from_env(Some("parentbased_always_off"), None);
        assert_eq!(judged(&c), (parent_based(Sampler::AlwaysOff), "Other".into()));
        let c = from_env(Some("jaeger_remote"), None);
        assert!(c.warning.is_some());
        assert_eq!(judged(&c), (parent_based(Sampler::AlwaysOn), "Sampled".into()));
    }
}
