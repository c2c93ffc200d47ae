//! Prometheus rules for service-level objectives over the [contract](inferwatch_core::contract)'s metrics: recording rules
//! and multi-window, multi-burn-rate alerts (Google SRE workbook), plus operational alerts for GPUs, readiness
//! and traffic.
//!
//! For a 30-day objective the burn-rate alerts are: page when the error ratio over 1 h **and** 5 min exceeds
//! 14.4 × the budget, or over 6 h **and** 30 min exceeds 6 ×; ticket when over 3 d **and** 6 h exceeds 1 ×.
//! Every alert has a `severity` label, a summary, a description and a runbook link.
//!
//! ```
//! use inferwatch_rules::SloRules;
//!
//! let yaml = SloRules::new()
//!     .availability(0.999)
//!     .latency(10.24, 0.99)
//!     .time_to_first_token(1.0, 0.95)
//!     .selector(r#"job="model-server""#)
//!     .to_yaml()
//!     .expect("valid objectives");
//! assert!(yaml.contains("alert: InferwatchAvailabilityBurnRate"));
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod anomaly;
mod engine_cost;
mod experiment;
mod fleet;
mod rules;

pub use experiment::ExperimentRules;
use rules::DEFAULT_RUNBOOK_URL;
pub use rules::{Rule, RuleGroup};

use std::collections::BTreeMap;
use std::fmt;

use inferwatch_core::contract::{self as c, MetricDef};

/// The windows of the burn-rate alerts: (severity, long window, short window, burn-rate factor, for).
const BURN_RATE_WINDOWS: &[(&str, &str, &str, f64, &str)] = &[
    ("page", "1h", "5m", 14.4, "2m"),
    ("page", "6h", "30m", 6.0, "15m"),
    ("ticket", "3d", "6h", 1.0, "1h"),
];

/// Every window a ratio is recorded over.
const WINDOWS: &[&str] = &["5m", "30m", "1h", "6h", "3d"];

/// A threshold and the share of requests that must meet it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Objective {
    /// Upper bound in seconds; must be a bucket boundary of the histogram.
    pub threshold_s: f64,
    /// Share of requests at or under it, e.g. 0.99.
    pub target: f64,
}

/// Why objectives could not be rendered.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum SloError {
    /// A target outside (0, 1).
    Target(f64),
    /// A threshold that is not a bucket boundary of the histogram, so no bucket counts it.
    NotABucket {
        /// The histogram.
        metric: &'static str,
        /// The threshold given.
        threshold_s: f64,
    },
    /// A daily budget that is not a positive amount.
    Budget(f64),
}

impl fmt::Display for SloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SloError::Target(t) => write!(f, "objective target {t} is not between 0 and 1 (exclusive)"),
            SloError::Budget(b) => write!(f, "daily budget {b} is not a positive amount"),
            SloError::NotABucket { metric, threshold_s } => {
                write!(
                    f,
                    "{threshold_s} s is not a bucket boundary of {metric}; pick one from docs/METRICS.md"
                )
            }
        }
    }
}

inferwatch_core::debug_is_display!(SloError);

impl std::error::Error for SloError {}

/// Objectives to render as rules. Defaults: availability 99.9 %, 99 % of inference requests within 20.48 s,
/// 95 % of first tokens within 1 s; GPU alerts on.
#[derive(Clone, Debug)]
pub struct SloRules {
    availability: Option<f64>,
    latency: Option<Objective>,
    ttft: Option<Objective>,
    selector: String,
    runbook_url: String,
    gpu_alerts: bool,
    gpu_memory_ratio: f64,
    kv_cache_ratio: f64,
    /// Requests a second below which traffic is too thin for anomaly alerts.
    anomaly_min_rate: f64,
    /// Window observations a feature needs before its drift alerts.
    drift_min_observations: u64,
    /// Spend a day may reach, in the prices' currency.
    daily_budget: Option<f64>,
    /// Bucket bounds that differ from the contract's, as given to the exporter.
    buckets: BTreeMap<String, Vec<f64>>,
}

impl Default for SloRules {
    fn default() -> Self {
        Self {
            availability: Some(0.999),
            latency: Some(Objective {
                threshold_s: 20.48,
                target: 0.99,
            }),
            ttft: Some(Objective {
                threshold_s: 1.0,
                target: 0.95,
            }),
            selector: String::new(),
            runbook_url: DEFAULT_RUNBOOK_URL.into(),
            gpu_alerts: true,
            gpu_memory_ratio: 0.95,
            kv_cache_ratio: 0.95,
            anomaly_min_rate: 1.0,
            drift_min_observations: 500,
            daily_budget: None,
            buckets: BTreeMap::new(),
        }
    }
}

impl SloRules {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Share of requests that must not end in `server_error`.
    pub fn availability(mut self, target: f64) -> Self {
        self.availability = Some(target);
        self
    }

    /// Share of inference requests (`gen_ai_server_request_duration_seconds`) that must end within `threshold_s`.
    pub fn latency(mut self, threshold_s: f64, target: f64) -> Self {
        self.latency = Some(Objective { threshold_s, target });
        self
    }

    /// Share of streamed requests whose first token must come within `threshold_s`.
    pub fn time_to_first_token(mut self, threshold_s: f64, target: f64) -> Self {
        self.ttft = Some(Objective { threshold_s, target });
        self
    }

    /// No availability objective.
    pub fn without_availability(mut self) -> Self {
        self.availability = None;
        self
    }

    /// No latency objective.
    pub fn without_latency(mut self) -> Self {
        self.latency = None;
        self
    }

    /// No time-to-first-token objective.
    pub fn without_time_to_first_token(mut self) -> Self {
        self.ttft = None;
        self
    }

    /// Label matchers added to every selector, e.g. `job="model-server"`.
    pub fn selector(mut self, matchers: impl Into<String>) -> Self {
        self.selector = matchers.into();
        self
    }

    /// The runbook each alert links to (its section is appended as `#alertname`); default: this repository's
    /// `docs/RUNBOOK.md`.
    pub fn runbook_url(mut self, url: impl Into<String>) -> Self {
        self.runbook_url = url.into();
        self
    }

    /// The bucket bounds of `metric` when the exporter was given others than the contract's (the same call as
    /// `inferwatch_prometheus::PrometheusBuilder::buckets`): objective thresholds are
    /// checked against these.
    pub fn buckets(mut self, metric: &str, bounds: &[f64]) -> Self {
        self.buckets.insert(metric.to_owned(), bounds.to_vec());
        self
    }

    /// No GPU alerts (hosts without GPUs).
    pub fn without_gpu_alerts(mut self) -> Self {
        self.gpu_alerts = false;
        self
    }

    /// Alerts when the day's spend, projected from the last hour's rate of `inferwatch_cost_total` and
    /// `inferwatch_gpu_cost_total`, exceeds `amount` (in the price table's currency). No budget alert by default.
    pub fn daily_budget(mut self, amount: f64) -> Self {
        self.daily_budget = Some(amount);
        self
    }

    /// Requests a second (over 5 minutes) below which the anomaly alerts stay silent: thin traffic has noisy
    /// ratios. Default 1.
    pub fn anomaly_min_rate(mut self, requests_per_second: f64) -> Self {
        self.anomaly_min_rate = requests_per_second;
        self
    }

    /// Observations a feature's window needs before its drift alerts can fire. Default 500.
    pub fn drift_min_observations(mut self, observations: u64) -> Self {
        self.drift_min_observations = observations;
        self
    }

    /// The KV-cache usage (0–1] above which, held for 15 minutes, the cache counts as saturated. Default 0.95.
    pub fn kv_cache_saturation(mut self, ratio: f64) -> Self {
        self.kv_cache_ratio = ratio;
        self
    }

    /// The rule groups: recording rules, burn-rate alerts, operational alerts (engine and cost included).
    pub fn groups(&self) -> Result<Vec<RuleGroup>, SloError> {
        self.check_engine_cost()?;
        let mut recording = Vec::new();
        let mut alerts = Vec::new();
        for slo in self.slis()? {
            for window in WINDOWS {
                recording.push(Rule::Record {
                    record: slo.record(window),
                    expr: slo.error_ratio(window),
                });
            }
            alerts.extend(BURN_RATE_WINDOWS.iter().map(|w| self.burn_rate_alert(&slo, *w)));
        }
        Ok(vec![
            RuleGroup {
                name: "inferwatch-slo-recording".into(),
                interval: Some("30s".into()),
                rules: recording,
            },
            RuleGroup {
                name: "inferwatch-engine-and-cost-recording".into(),
                interval: Some("30s".into()),
                rules: self.engine_cost_recording(),
            },
            RuleGroup {
                name: "inferwatch-anomaly-recording".into(),
                interval: Some("30s".into()),
                rules: self.anomaly_recording(),
            },
            RuleGroup {
                name: "inferwatch-slo-alerts".into(),
                interval: None,
                rules: alerts,
            },
            RuleGroup {
                name: "inferwatch-operations".into(),
                interval: None,
                rules: self
                    .operational_alerts()
                    .into_iter()
                    .chain(self.engine_cost_alerts())
                    .chain(self.anomaly_alerts())
                    .collect(),
            },
            RuleGroup {
                name: "inferwatch-fleet".into(),
                interval: Some("30s".into()),
                rules: self.fleet_recording().into_iter().chain(self.fleet_alerts()).collect(),
            },
        ])
    }

    /// The rules file, ready for `rule_files:`.
    pub fn to_yaml(&self) -> Result<String, SloError> {
        let header = "Generated by inferwatch::slo::SloRules; do not edit by hand.\n\
                      Burn-rate windows follow the Google SRE workbook (multiwindow, multi-burn-rate alerts).";
        Ok(rules::to_yaml(&self.groups()?, header))
    }

    fn matchers(&self, extra: &str) -> String {
        let parts: Vec<&str> = [extra, self.selector.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", parts.join(","))
        }
    }

    fn slis(&self) -> Result<Vec<Sli>, SloError> {
        let mut slis = Vec::new();
        if let Some(target) = self.availability {
            check_target(target)?;
            let total = c::Metric::RequestsTotal.def().name;
            slis.push(Sli {
                name: "availability",
                title: "Availability",
                target,
                what: "requests ending in server errors".into(),
                ratio: format!(
                    "sum by (job) (rate({total}{}[{{w}}])) / sum by (job) (rate({total}{}[{{w}}]))",
                    self.matchers(r#"outcome="server_error""#),
                    self.matchers(""),
                ),
            });
        }
        for (name, title, objective, def) in [
            (
                "latency",
                "Latency",
                self.latency,
                c::Metric::GenAiServerRequestDuration.def(),
            ),
            (
                "ttft",
                "TimeToFirstToken",
                self.ttft,
                c::Metric::GenAiServerTimeToFirstToken.def(),
            ),
        ] {
            let Some(objective) = objective else { continue };
            check_target(objective.target)?;
            let buckets = self.buckets.get(def.name).map_or(def.buckets, Vec::as_slice);
            let le = le_matcher(def, buckets, objective.threshold_s)?;
            let what = match name {
                "latency" => format!("inference requests slower than {} s", objective.threshold_s),
                _ => format!("first tokens later than {} s", objective.threshold_s),
            };
            slis.push(Sli {
                name,
                title,
                target: objective.target,
                what,
                ratio: format!(
                    "1 - (sum by (job) (rate({n}_bucket{}[{{w}}])) / sum by (job) (rate({n}_count{}[{{w}}])))",
                    self.matchers(&le),
                    self.matchers(""),
                    n = def.name,
                ),
            });
        }
        Ok(slis)
    }

    fn runbook(&self, alert: &str) -> String {
        format!("{}#{}", self.runbook_url, alert.to_ascii_lowercase())
    }

    fn burn_rate_alert(&self, sli: &Sli, (severity, long, short, factor, for_): (&str, &str, &str, f64, &str)) -> Rule {
        let alert = format!("Inferwatch{}BurnRate", sli.title);
        let budget = format!("({factor} * (1 - {}))", sli.target);
        let expr = format!("{} > {budget} and {} > {budget}", sli.record(long), sli.record(short));
        Rule::Alert {
            expr,
            for_: for_.into(),
            labels: vec![
                ("severity".into(), severity.into()),
                ("slo".into(), sli.name.into()),
                ("long_window".into(), long.into()),
            ],
            annotations: vec![
                (
                    "summary".into(),
                    format!(
                        "{{{{ $labels.job }}}}: {} SLO error budget burning {factor}x over {long}",
                        sli.name
                    ),
                ),
                (
                    "description".into(),
                    format!(
                        "{} are {{{{ $value | humanizePercentage }}}} of the total over the last {long} (and over \
                         {short}), {factor} times the {:.3}% the {} objective allows. At this rate the 30-day \
                         budget lasts {}.",
                        capitalise(&sli.what),
                        (1.0 - sli.target) * 100.0,
                        sli.target,
                        budget_lasts(factor),
                    ),
                ),
                ("runbook_url".into(), self.runbook(&alert)),
            ],
            alert,
        }
    }

    fn operational_alerts(&self) -> Vec<Rule> {
        let sel = self.matchers("");
        let mut alerts = Vec::new();
        let mut add = |alert: &str, expr: String, for_: &str, severity: &str, summary: &str, description: &str| {
            alerts.push(self.alert(alert, expr, for_, severity, summary, description));
        };
        if self.gpu_alerts {
            add(
                "InferwatchGpuMemorySaturated",
                format!(
                    "{} / {} > {}",
                    with(c::Metric::HwGpuMemoryUsage.def(), &sel),
                    with(c::Metric::HwGpuMemoryLimit.def(), &sel),
                    self.gpu_memory_ratio
                ),
                "10m",
                "ticket",
                "{{ $labels.instance }}: GPU {{ $labels.gpu }} memory {{ $value | humanizePercentage }} full",
                "GPU {{ $labels.gpu }} ({{ $labels.hw_name }}, {{ $labels.hw_id }}) has had less than 5% of its memory \
                 free for 10 minutes; the next large batch or long context may fail to allocate.",
            );
            add(
                "InferwatchGpuLost",
                format!("{} == 0", with(c::Metric::GpuDeviceUp.def(), &sel)),
                "1m",
                "page",
                "{{ $labels.instance }}: GPU {{ $labels.gpu }} lost",
                "NVML reports GPU {{ $labels.gpu }} ({{ $labels.hw_id }}) lost: it fell off the bus or the driver reset.",
            );
            add(
                "InferwatchGpuSamplerDown",
                format!("{} == 0", with(c::Metric::GpuSamplerUp.def(), &sel)),
                "15m",
                "ticket",
                "{{ $labels.instance }}: GPU sampler down",
                "NVML has not answered for 15 minutes: GPU utilisation, memory and power are not being measured.",
            );
        }
        add(
            "InferwatchReadinessFailing",
            format!("{} == 0", with(c::Metric::HealthStatus.def(), &sel)),
            "5m",
            "page",
            "{{ $labels.instance }}: health check {{ $labels.check }} failing",
            "Health check {{ $labels.check }} has failed for 5 minutes; a readiness check failing keeps the instance \
             out of load balancing.",
        );
        add(
            "InferwatchTelemetryExportFailing",
            format!(
                "sum by (job, instance, signal) (rate({}[5m])) > 0",
                with(c::Metric::TelemetryExportErrors.def(), &sel)
            ),
            "10m",
            "ticket",
            "{{ $labels.instance }}: {{ $labels.signal }} export failing",
            "Exports of {{ $labels.signal }} to the OpenTelemetry collector have failed for 10 minutes: this \
             instance's {{ $labels.signal }} are lost (requests are not affected).",
        );
        add(
            "InferwatchSpansDropped",
            format!(
                "sum by (job, instance) (rate({}[10m])) > 0",
                with(
                    c::Metric::TelemetrySpansDropped.def(),
                    &self.matchers(r#"reason="queue_full""#)
                )
            ),
            "10m",
            "ticket",
            "{{ $labels.instance }}: spans dropped on a full export queue",
            "The span export queue has been full for 10 minutes: spans are produced faster than the collector takes \
             them, and the excess is dropped (requests are not affected).",
        );
        add(
            "InferwatchLogLinesDropped",
            format!(
                "sum by (job, instance) (rate({}[10m])) > 0",
                with(c::Metric::TelemetryLogLinesDropped.def(), &sel)
            ),
            "10m",
            "ticket",
            "{{ $labels.instance }}: log lines dropped",
            "The log writer has not kept up for 10 minutes: lines beyond its queue are dropped (requests are not \
             affected).",
        );
        add(
            "InferwatchNoTraffic",
            format!(
                "sum by (job) (rate({}[15m])) == 0",
                with(c::Metric::RequestsTotal.def(), &sel)
            ),
            "15m",
            "ticket",
            "{{ $labels.job }}: no requests for 30 minutes",
            "inferwatch has counted no requests for 30 minutes: clients, load balancer or DNS may no longer reach the \
             service.",
        );
        alerts
    }
}

struct Sli {
    name: &'static str,
    title: &'static str,
    target: f64,
    what: String,
    /// The error ratio with `{w}` for the window.
    ratio: String,
}

impl Sli {
    fn record(&self, window: &str) -> String {
        format!("job:inferwatch_{}_errors:ratio_rate{window}", self.name)
    }

    fn error_ratio(&self, window: &str) -> String {
        self.ratio.replace("{w}", window)
    }
}

fn with(def: &MetricDef, matchers: &str) -> String {
    format!("{}{}", def.name, matchers)
}

fn check_target(target: f64) -> Result<(), SloError> {
    if target > 0.0 && target < 1.0 {
        Ok(())
    } else {
        Err(SloError::Target(target))
    }
}

/// `le` as the exporter writes it (`1`), and as Prometheus 3 normalises it (`1.0`).
fn le_matcher(def: &'static MetricDef, buckets: &[f64], threshold_s: f64) -> Result<String, SloError> {
    if !buckets.contains(&threshold_s) {
        return Err(SloError::NotABucket {
            metric: def.name,
            threshold_s,
        });
    }
    Ok(if threshold_s.fract() == 0.0 {
        format!(r#"le=~"{threshold_s}|{threshold_s}.0""#)
    } else {
        format!(r#"le="{threshold_s}""#)
    })
}

fn budget_lasts(factor: f64) -> String {
    let hours = 30.0 * 24.0 / factor;
    if hours >= 48.0 {
        format!("{:.0} days", hours / 24.0)
    } else {
        format!("{hours:.0} hours")
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_must_be_buckets_and_targets_ratios() {
        let err = SloRules::new().latency(7.0, 0.99).groups().unwrap_err();
        assert_eq!(
            err,
            SloError::NotABucket {
                metric: "gen_ai_server_request_duration_seconds",
                threshold_s: 7.0
            }
        );
        assert_eq!(
            SloRules::new().availability(1.0).groups().unwrap_err(),
            SloError::Target(1.0)
        );
    }

    #[test]
    fn thresholds_follow_the_exporters_buckets() {
        let metric = "gen_ai_server_request_duration_seconds";
        assert!(
            SloRules::new()
                .latency(7.0, 0.99)
                .buckets(metric, &[1.0, 7.0, 30.0])
                .groups()
                .is_ok()
        );
        let err = SloRules::new().buckets(metric, &[1.0, 30.0]).groups().unwrap_err();
        assert_eq!(
            err,
            SloError::NotABucket {
                metric: "gen_ai_server_request_duration_seconds",
                threshold_s: 20.48
            }
        );
    }

    #[test]
    fn burn_rate_alerts_pair_a_long_and_a_short_window() {
        let groups = SloRules::new()
            .without_latency()
            .without_time_to_first_token()
            .groups()
            .unwrap();
        let alerts = &groups[3].rules;
        assert_eq!(alerts.len(), 3);
        assert_eq!(
            alerts[0].expr(),
            "job:inferwatch_availability_errors:ratio_rate1h > (14.4 * (1 - 0.999)) and \
             job:inferwatch_availability_errors:ratio_rate5m > (14.4 * (1 - 0.999))"
        );
        assert!(alerts[2].expr().contains("ratio_rate3d > (1 * (1 - 0.999)) and"));
        assert_eq!(groups[0].rules.len(), WINDOWS.len());
    }

    #[test]
    fn selectors_and_integer_buckets() {
        let groups = SloRules::new().selector(r#"job="m""#).groups().unwrap();
        let ttft = groups[0]
            .rules
            .iter()
            .find(|r| r.name() == "job:inferwatch_ttft_errors:ratio_rate5m")
            .unwrap();
        assert!(
            ttft.expr().contains(r#"_bucket{le=~"1|1.0",job="m"}[5m]"#),
            "{}",
            ttft.expr()
        );
    }

    #[test]
    fn committed_rules_file_is_this_apis_output() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/observability/rules/inferwatch.rules.yml"
        );
        // The demo's objectives are the defaults, with a daily budget of 100 in the example prices' currency.
        let generated = SloRules::new().daily_budget(100.0).to_yaml().unwrap();
        if std::env::var_os("INFERWATCH_BLESS").is_some() {
            std::fs::write(path, &generated).expect("write rules");
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "{path} is stale: run `INFERWATCH_BLESS=1 cargo test -p inferwatch-rules --lib committed_rules`"
        );
    }
}
