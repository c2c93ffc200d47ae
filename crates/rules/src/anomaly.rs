//! Rules that compare traffic with itself and inputs with their baseline: anomalies of the request rate, the
//! server-error ratio and the p95 time to first token against the last day of the same signal (a z-score, with
//! guards against low traffic), and drift of features past the PSI thresholds.

use super::{Rule, SloRules};
use inferwatch_core::contract::{self as c, label};

/// A signal watched for anomalies: its recording rule's name and expression, and the direction that matters.
struct Signal {
    record: &'static str,
    expr: String,
    /// Only increases are anomalies (errors, latency); for the rate both ways are.
    upward_only: bool,
}

/// z above which a signal is anomalous: beyond what the last day's spread explains (a daily rhythm, a sine, keeps
/// |z| under √2).
const Z: f64 = 3.0;

impl SloRules {
    fn signals(&self) -> Vec<Signal> {
        let sel = self.matchers("");
        let mut signals = vec![Signal {
            record: "job:inferwatch_requests:rate5m",
            expr: format!("sum by (job) (rate({}{sel}[5m]))", c::Metric::RequestsTotal.def().name),
            upward_only: false,
        }];
        if self.availability.is_some() {
            signals.push(Signal {
                record: "job:inferwatch_availability_errors:ratio_rate5m",
                expr: String::new(), // recorded by the availability SLO
                upward_only: true,
            });
        }
        signals.push(Signal {
            record: "job:inferwatch_ttft_p95:5m",
            expr: format!(
                "histogram_quantile(0.95, sum by (job, le) (rate({}_bucket{sel}[5m])))",
                c::Metric::GenAiServerTimeToFirstToken.def().name
            ),
            upward_only: true,
        });
        signals
    }

    /// The signals, their mean and spread over the last day, and their z-scores.
    pub(super) fn anomaly_recording(&self) -> Vec<Rule> {
        let mut rules = Vec::new();
        for signal in self.signals() {
            let s = signal.record;
            if !signal.expr.is_empty() {
                rules.push(Rule::Record {
                    record: s.into(),
                    expr: signal.expr.clone(),
                });
            }
            rules.push(Rule::Record {
                record: format!("{s}:avg1d"),
                expr: format!("avg_over_time({s}[1d])"),
            });
            rules.push(Rule::Record {
                record: format!("{s}:stddev1d"),
                expr: format!("stddev_over_time({s}[1d])"),
            });
            rules.push(Rule::Record {
                record: format!("{s}:z1d"),
                expr: format!("({s} - {s}:avg1d) / {s}:stddev1d"),
            });
        }
        rules
    }

    /// The anomaly and drift alerts.
    pub(super) fn anomaly_alerts(&self) -> Vec<Rule> {
        let min = self.anomaly_min_rate;
        let busy = format!("job:inferwatch_requests:rate5m > {min}");
        let mut alerts = Vec::new();
        for signal in self.signals() {
            let s = signal.record;
            // Beyond z, a change must be material: a fifth of the usual level for the rate and first tokens, 1 % of
            // requests for errors; and traffic thick enough for the ratios to mean something.
            let (alert, what, z, guard) = match s {
                "job:inferwatch_requests:rate5m" => (
                    "InferwatchTrafficAnomaly",
                    "request rate",
                    format!("abs({s}:z1d) > {Z} and abs({s} - {s}:avg1d) > 0.2 * {s}:avg1d"),
                    format!("{s}:avg1d > {min}"),
                ),
                "job:inferwatch_availability_errors:ratio_rate5m" => (
                    "InferwatchErrorRatioAnomaly",
                    "server-error ratio",
                    format!("{s}:z1d > {Z} and {s} > 0.01"),
                    busy.clone(),
                ),
                _ => (
                    "InferwatchTimeToFirstTokenAnomaly",
                    "p95 time to first token",
                    format!("{s}:z1d > {Z} and {s} > 1.2 * {s}:avg1d"),
                    busy.clone(),
                ),
            };
            debug_assert!(signal.upward_only || alert == "InferwatchTrafficAnomaly");
            alerts.push(self.alert(
                alert,
                format!("{z} and on (job) {guard}"),
                "15m",
                "ticket",
                &format!("{{{{ $labels.job }}}}: {what} unlike the last day"),
                &format!(
                    "The {what} has been more than {Z} standard deviations from its mean over the last day, and far \
                     from it, for 15 minutes, with at least {min} requests a second: a change, not the daily rhythm."
                ),
            ));
        }
        let observations = format!("{}{}", c::Metric::DriftWindowObservations.def().name, self.matchers(""));
        let on = format!(
            "on (job, instance, {}, {})",
            label::FEATURE,
            label::GEN_AI_REQUEST_MODEL
        );
        for (alert, threshold, severity, state) in [
            ("InferwatchFeatureDrift", 0.25, "ticket", "drifted from"),
            ("InferwatchFeatureShift", 0.1, "info", "is shifting away from"),
        ] {
            alerts.push(self.alert(
                alert,
                format!(
                    "{}{} > {threshold} and {on} {observations} >= {}",
                    c::Metric::DriftPsi.def().name,
                    self.matchers(&format!(r#"{}!="{}""#, label::FEATURE, c::OTHER)),
                    self.drift_min_observations
                ),
                "1h",
                severity,
                &format!(
                    "{{{{ $labels.instance }}}}: {{{{ $labels.feature }}}} of {{{{ $labels.gen_ai_request_model }}}} \
                     {state} its baseline (PSI {{{{ $value | printf \"%.2f\" }}}})"
                ),
                &format!(
                    "The Population Stability Index of {{{{ $labels.feature }}}} has stayed above {threshold} for an \
                     hour, over at least {} observations: today's inputs are not the ones the baseline describes.",
                    self.drift_min_observations
                ),
            ));
        }
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomalies_compare_each_signal_with_its_last_day() {
        let rules = SloRules::new().anomaly_recording();
        let z = rules
            .iter()
            .find(|r| r.name() == "job:inferwatch_requests:rate5m:z1d")
            .expect("z");
        assert_eq!(
            z.expr(),
            "(job:inferwatch_requests:rate5m - job:inferwatch_requests:rate5m:avg1d) / \
             job:inferwatch_requests:rate5m:stddev1d"
        );
        // The error ratio is the availability SLO's recording; without that SLO, no error anomaly.
        assert!(
            !rules
                .iter()
                .any(|r| r.name() == "job:inferwatch_availability_errors:ratio_rate5m")
        );
        let names = |r: &SloRules| -> Vec<String> { r.anomaly_alerts().iter().map(|a| a.name().to_owned()).collect() };
        assert!(names(&SloRules::new()).contains(&"InferwatchErrorRatioAnomaly".to_owned()));
        assert!(!names(&SloRules::new().without_availability()).contains(&"InferwatchErrorRatioAnomaly".to_owned()));
        let drift = SloRules::new().drift_min_observations(250).anomaly_alerts();
        let drift = drift
            .iter()
            .find(|a| a.name() == "InferwatchFeatureDrift")
            .expect("drift");
        assert_eq!(
            drift.expr(),
            r#"inferwatch_drift_psi{feature!="_OTHER"} > 0.25 and on (job, instance, feature, gen_ai_request_model) inferwatch_drift_window_observations >= 250"#
        );
    }
}
