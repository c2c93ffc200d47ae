//! Which log lines are written: `RUST_LOG`, or the builder's default, as a per-layer filter.
//!
//! `RUST_LOG` of plain `target=level` directives (nearly always) becomes tracing-subscriber's `Targets`, which
//! decides per callsite once and then costs nothing. Only directives that look inside spans (`[span{field=..}]`)
//! need `EnvFilter`, which takes a lock on every span entry and exit to track them.

use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::registry::LookupSpan;

/// The filter for `RUST_LOG` when it is set (and valid), else for `default`.
pub(super) fn from_env<S>(default: &str) -> Box<dyn Filter<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let configured = std::env::var("RUST_LOG").ok().filter(|v| EnvFilter::try_new(v).is_ok());
    let directives = configured.as_deref().unwrap_or(default);
    match directives.parse::<Targets>() {
        Ok(targets) if !directives.contains('[') => Box::new(targets),
        _ => Box::new(EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"))),
    }
}
