//! `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, read here rather than by the SDK so that the same sampler
//! goes to the tracer provider and to the request observer, which decides before it builds a span.

use opentelemetry_sdk::trace::Sampler;

use inferwatch_core::observe::Roots;

/// A sampler the environment named, and how it judges new traces.
#[derive(Debug)]
pub(super) struct Configured {
    pub(super) sampler: Sampler,
    pub(super) roots: Roots,
    /// What was wrong with the variables, to be logged once the subscriber is up.
    pub(super) warning: Option<String>,
}

impl Configured {
    /// `parentbased_traceidratio` at `ratio` (already checked to lie in [0, 1]).
    pub(super) fn parent_based_ratio(ratio: f64) -> Self {
        Self {
            sampler: Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))),
            roots: Roots::ByTraceId(ratio),
            warning: None,
        }
    }
}

/// The sampler `OTEL_TRACES_SAMPLER` names (default `parentbased_always_on`), as the OpenTelemetry specification
/// lists them; an unknown name or a ratio that is not a number in [0, 1] falls back to the default, with a warning.
pub(super) fn from_env(name: Option<&str>, arg: Option<&str>) -> Configured {
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    let ratio = arg
        .map(str::trim)
        .and_then(|a| a.parse::<f64>().ok())
        .filter(|r| (0.0..=1.0).contains(r));
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let ratio_or_warn = |name: &str| match ratio {
        Some(r) => (Sampler::TraceIdRatioBased(r), Roots::ByTraceId(r), None),
        None => (
            Sampler::TraceIdRatioBased(1.0),
            Roots::ByTraceId(1.0),
            Some(format!(
                "OTEL_TRACES_SAMPLER={name} needs OTEL_TRACES_SAMPLER_ARG, a ratio from 0 to 1 (got {arg:?}); sampling every trace"
            )),
        ),
    };
    let (sampler, roots, warning) = match name {
        None | Some("parentbased_always_on") => (parent_based(Sampler::AlwaysOn), Roots::Sampled, None),
        Some("always_on") => (Sampler::AlwaysOn, Roots::Sampled, None),
        Some("always_off") => (Sampler::AlwaysOff, Roots::Other, None),
        Some("parentbased_always_off") => (parent_based(Sampler::AlwaysOff), Roots::Other, None),
        Some(n @ "traceidratio") => ratio_or_warn(n),
        Some(n @ "parentbased_traceidratio") => {
            let (root, roots, warning) = ratio_or_warn(n);
            (parent_based(root), roots, warning)
        }
        Some(other) => (
            parent_based(Sampler::AlwaysOn),
            Roots::Sampled,
            Some(format!(
                "OTEL_TRACES_SAMPLER={other:?} is not a sampler inferwatch has; using parentbased_always_on"
            )),
        ),
    };
    Configured {
        sampler,
        roots,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ratios() {
        let c = from_env(None, None);
        assert!(c.roots == Roots::Sampled && c.warning.is_none());
        assert_eq!(
            format!("{:?}", c.sampler),
            format!("{:?}", Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        );
        let c = from_env(Some("parentbased_traceidratio"), Some(" 0.1 "));
        assert!(c.roots == Roots::ByTraceId(0.1) && c.warning.is_none());
        assert_eq!(
            format!("{:?}", c.sampler),
            format!("{:?}", Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(0.1))))
        );
        let c = from_env(Some("traceidratio"), Some("1.5"));
        assert!(c.warning.is_some() && c.roots == Roots::ByTraceId(1.0));
        assert_eq!(
            format!("{:?}", c.sampler),
            format!("{:?}", Sampler::TraceIdRatioBased(1.0))
        );
        let c = from_env(Some("always_off"), None);
        assert_eq!(c.roots, Roots::Other);
        assert_eq!(format!("{:?}", c.sampler), format!("{:?}", Sampler::AlwaysOff));
        let c = from_env(Some("jaeger_remote"), None);
        assert!(c.warning.is_some() && c.roots == Roots::Sampled);
    }
}
