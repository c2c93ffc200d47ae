//! Which log lines are written: `RUST_LOG`, or the builder's default, as a per-layer filter.
//!
//! `RUST_LOG` of plain `target=level` directives (nearly always) becomes tracing-subscriber's `Targets`, which
//! decides per callsite once and then costs nothing. Only directives that look inside spans (`[span{field=..}]`)
//! need `EnvFilter`, which takes a lock on every span entry and exit to track them.

use tracing::level_filters::STATIC_MAX_LEVEL;
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::registry::LookupSpan;

/// A log filter, by the kind of its directives.
pub(super) enum LogFilter {
    /// Plain `target=level` directives.
    Targets(Box<Targets>),
    /// Directives that look inside spans.
    Spans(Box<EnvFilter>),
}

impl LogFilter {
    /// The filter for `RUST_LOG` when it is set (and valid), else for `default`.
    pub(super) fn from_env(default: &str) -> Self {
        let configured = std::env::var("RUST_LOG").ok().filter(|v| EnvFilter::try_new(v).is_ok());
        let directives = configured.as_deref().unwrap_or(default);
        match directives.parse::<Targets>() {
            Ok(targets) if !directives.contains('[') => Self::Targets(Box::new(targets)),
            _ => Self::Spans(Box::new(
                EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info")),
            )),
        }
    }

    /// Whether an event of `target` at `level` passes wherever it is logged; `None` when that depends on the spans
    /// it is logged in.
    pub(super) fn passes_anywhere(&self, target: &str, level: Level) -> Option<bool> {
        match self {
            Self::Targets(targets) => Some(level <= STATIC_MAX_LEVEL && targets.would_enable(target, &level)),
            Self::Spans(_) => None,
        }
    }

    /// As a per-layer filter.
    pub(super) fn boxed<S>(self) -> Box<dyn Filter<S> + Send + Sync>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        match self {
            Self::Targets(targets) => targets,
            Self::Spans(env) => env,
        }
    }
}
