//! Rules for a fleet of replicas. The SLO ratios are the fleet's: errors and requests are summed by `job` before
//! dividing, so every request weighs the same whichever replica served it (an average of per-replica ratios would
//! let an idle replica's ratio count as much as a busy one's). These rules say where a burn comes from: each
//! replica's server-error ratio, the ratio of the rest of its fleet, and an alert when one replica's errors stand
//! out from the others'. Errors spread thinly over every replica burn the fleet's budget without any replica
//! standing out: then the burn-rate alert fires alone, and the cause is fleet-wide (a deploy, a dependency).

use super::{Rule, SloRules};
use inferwatch_core::contract as c;

/// A replica's server-error ratio over 5 minutes.
const INSTANCE_RATIO: &str = "job_instance:inferwatch_availability_errors:ratio_rate5m";
/// The server-error ratio of the other replicas of the same job over 5 minutes.
const ELSEWHERE_RATIO: &str = "job_instance:inferwatch_availability_errors_elsewhere:ratio_rate5m";
/// How far a replica's ratio is from the rest's in standard errors (a two-proportion z statistic over the 5
/// minutes' counts): a few errors among few requests are not a replica standing out.
const INSTANCE_Z: &str = "job_instance:inferwatch_availability_errors:z5m";
const INSTANCE_ERRORS: &str = "job_instance:inferwatch_server_errors:rate5m";
const INSTANCE_REQUESTS: &str = "job_instance:inferwatch_requests:rate5m";
const ELSEWHERE_ERRORS: &str = "job_instance:inferwatch_server_errors_elsewhere:rate5m";
const ELSEWHERE_REQUESTS: &str = "job_instance:inferwatch_requests_elsewhere:rate5m";

/// How many times the rest of the fleet's ratio a replica's must reach to stand out. A replica that fails every
/// request stands out at any fleet size, two replicas included (the others' ratio is then 0).
const OUTLIER_FACTOR: f64 = 2.0;

/// The z statistic above which a replica's ratio is not chance.
const OUTLIER_Z: f64 = 3.0;

/// The name of the alert on a replica whose errors stand out.
pub(super) const OUTLIER_ALERT: &str = "InferwatchInstanceErrorsOutlier";

impl SloRules {
    /// Per-replica rates and ratios; none without an availability objective.
    pub(super) fn fleet_recording(&self) -> Vec<Rule> {
        if self.availability.is_none() {
            return Vec::new();
        }
        let total = c::Metric::RequestsTotal.def().name;
        let per_instance = |extra: &str| format!("sum by (job, instance) (rate({total}{}[5m]))", self.matchers(extra));
        let record = |record: &str, expr: String| Rule::Record {
            record: record.into(),
            expr,
        };
        // `sum by (job) (x) - on (job) group_right x`: the job's total less each replica's own, per replica.
        let elsewhere = |x: &str| format!("(sum by (job) ({x}) - on (job) group_right {x})");
        // Over the window, counts are rates × 300 s; the pooled ratio is the job's.
        let pooled =
            format!("(({INSTANCE_ERRORS} + {ELSEWHERE_ERRORS}) / ({INSTANCE_REQUESTS} + {ELSEWHERE_REQUESTS}))");
        let z = format!(
            "({INSTANCE_RATIO} - {ELSEWHERE_RATIO}) / sqrt({pooled} * (1 - {pooled}) * (1 / (300 * {INSTANCE_REQUESTS}) \
             + 1 / (300 * {ELSEWHERE_REQUESTS})))"
        );
        vec![
            record(INSTANCE_REQUESTS, per_instance("")),
            record(INSTANCE_ERRORS, per_instance(r#"outcome="server_error""#)),
            record(ELSEWHERE_REQUESTS, elsewhere(INSTANCE_REQUESTS)),
            record(ELSEWHERE_ERRORS, elsewhere(INSTANCE_ERRORS)),
            record(INSTANCE_RATIO, format!("{INSTANCE_ERRORS} / {INSTANCE_REQUESTS}")),
            record(ELSEWHERE_RATIO, format!("{ELSEWHERE_ERRORS} / {ELSEWHERE_REQUESTS}")),
            record(INSTANCE_Z, z),
        ]
    }

    /// A replica failing at the fast page's burn rate while the rest of its fleet fails at less than half its
    /// ratio, by more than chance explains. A lone replica has no rest (its `elsewhere` ratio is 0/0) and never
    /// stands out.
    pub(super) fn fleet_alerts(&self) -> Vec<Rule> {
        let Some(target) = self.availability else {
            return Vec::new();
        };
        let threshold = format!("(14.4 * (1 - {target}))");
        vec![self.alert(
            OUTLIER_ALERT,
            format!(
                "{INSTANCE_RATIO} > {threshold} and {INSTANCE_RATIO} > {OUTLIER_FACTOR} * {ELSEWHERE_RATIO} \
                 and {INSTANCE_Z} > {OUTLIER_Z}"
            ),
            "2m",
            "ticket",
            "{{ $labels.job }}: replica {{ $labels.instance }} fails {{ $value | humanizePercentage }} of its requests",
            "Replica {{ $labels.instance }} of {{ $labels.job }} has ended more than twice the share of its requests \
             in server errors that the rest of the fleet has, for 2 minutes, at more than 14.4 times the error \
             budget and beyond chance (z > 3): drain it rather than roll the fleet back.",
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_of_the_fleet_is_the_jobs_sum_less_the_replica() {
        let rules = SloRules::new().selector(r#"job="m""#).fleet_recording();
        let names: Vec<&str> = rules.iter().map(Rule::name).collect();
        assert_eq!(
            names,
            [
                INSTANCE_REQUESTS,
                INSTANCE_ERRORS,
                ELSEWHERE_REQUESTS,
                ELSEWHERE_ERRORS,
                INSTANCE_RATIO,
                ELSEWHERE_RATIO,
                INSTANCE_Z
            ]
        );
        assert_eq!(
            rules[1].expr(),
            r#"sum by (job, instance) (rate(inferwatch_requests_total{outcome="server_error",job="m"}[5m]))"#
        );
        assert_eq!(
            rules[3].expr(),
            "(sum by (job) (job_instance:inferwatch_server_errors:rate5m) - on (job) group_right \
             job_instance:inferwatch_server_errors:rate5m)"
        );
        let alerts = SloRules::new().availability(0.99).fleet_alerts();
        assert_eq!(
            alerts[0].expr(),
            "job_instance:inferwatch_availability_errors:ratio_rate5m > (14.4 * (1 - 0.99)) and \
             job_instance:inferwatch_availability_errors:ratio_rate5m > 2 * \
             job_instance:inferwatch_availability_errors_elsewhere:ratio_rate5m and \
             job_instance:inferwatch_availability_errors:z5m > 3"
        );
    }

    #[test]
    fn no_fleet_rules_without_an_availability_objective() {
        let rules = SloRules::new().without_availability();
        assert!(rules.fleet_recording().is_empty());
        assert!(rules.fleet_alerts().is_empty());
    }
}
