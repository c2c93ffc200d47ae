//! Rules over what the engine reports and what it costs: truncation and content-filter ratios, spend rates, GPU
//! cost per million output tokens, energy per output token, and the alerts on a saturated KV cache and on a day's
//! projected spend over budget.

use super::{Rule, SloError, SloRules};
use inferwatch_core::contract::{self as c, label};

/// Seconds in a day: a spend rate per second times this is the day's projection.
const DAY_S: u32 = 86_400;

impl SloRules {
    /// Recording rules of the engine and cost signals.
    pub(super) fn engine_cost_recording(&self) -> Vec<Rule> {
        let reasons = c::Metric::FinishReasonsTotal.def().name;
        let reason = label::GEN_AI_RESPONSE_FINISH_REASON;
        let by = format!("job, {}", label::GEN_AI_REQUEST_MODEL);
        let output = self.matchers(&format!(r#"{}="output""#, label::GEN_AI_TOKEN_TYPE));
        let mut rules = Vec::new();
        for (name, value) in [("truncation", "length"), ("content_filter", "content_filter")] {
            rules.push(Rule::Record {
                record: format!("job_model:inferwatch_{name}:ratio_rate5m"),
                expr: format!(
                    "sum by ({by}) (rate({reasons}{}[5m])) / sum by ({by}) (rate({reasons}{}[5m]))",
                    self.matchers(&format!(r#"{reason}="{value}""#)),
                    self.matchers(""),
                ),
            });
        }
        let spend = format!(
            r#"__name__=~"{}|{}""#,
            c::Metric::CostTotal.def().name,
            c::Metric::GpuCostTotal.def().name
        );
        rules.push(Rule::Record {
            record: "job:inferwatch_spend:rate1h".into(),
            expr: format!("sum by (job) (rate({}[1h]))", self.matchers(&spend)),
        });
        rules.push(Rule::Record {
            record: "job:inferwatch_gpu_cost_per_million_output_tokens:rate1h".into(),
            expr: format!(
                "sum by (job) (rate({}{}[1h])) / (sum by (job) (rate({}{output}[1h])) / 1e6)",
                c::Metric::GpuCostTotal.def().name,
                self.matchers(""),
                c::Metric::TokensTotal.def().name,
            ),
        });
        rules.push(Rule::Record {
            record: "job:inferwatch_energy_per_output_token_joules:rate1h".into(),
            expr: format!(
                "sum by (job) (rate({}{}[1h])) / sum by (job) (rate({}{output}[1h]))",
                c::Metric::HwEnergy.def().name,
                self.matchers(""),
                c::Metric::TokensTotal.def().name,
            ),
        });
        rules
    }

    /// Checks the budget and the cache threshold.
    pub(super) fn check_engine_cost(&self) -> Result<(), SloError> {
        if let Some(budget) = self.daily_budget
            && !(budget.is_finite() && budget > 0.0)
        {
            return Err(SloError::Budget(budget));
        }
        if !(self.kv_cache_ratio > 0.0 && self.kv_cache_ratio <= 1.0) {
            return Err(SloError::Target(self.kv_cache_ratio));
        }
        if !(self.anomaly_min_rate.is_finite() && self.anomaly_min_rate >= 0.0) {
            return Err(SloError::Target(self.anomaly_min_rate));
        }
        Ok(())
    }

    /// The KV-cache saturation alert, and the budget alert when a daily budget is set.
    pub(super) fn engine_cost_alerts(&self) -> Vec<Rule> {
        let mut alerts = vec![self.alert(
            "InferwatchKvCacheSaturated",
            format!(
                "max by (job, instance, {}) ({}{}) > {}",
                label::GEN_AI_REQUEST_MODEL,
                c::Metric::EngineKvCacheUsage.def().name,
                self.matchers(""),
                self.kv_cache_ratio
            ),
            "15m",
            "ticket",
            "{{ $labels.instance }}: KV cache of {{ $labels.gen_ai_request_model }} {{ $value | humanizePercentage }} full",
            &format!(
                "The engine has held its KV cache above {}% for 15 minutes: new requests wait in the queue or preempt \
                 running ones, and time to first token grows. Add capacity or lower the batch's context.",
                self.kv_cache_ratio * 100.0
            ),
        )];
        if let Some(budget) = self.daily_budget {
            alerts.push(self.alert(
                "InferwatchDailyBudgetExceeded",
                format!("job:inferwatch_spend:rate1h * {DAY_S} > {budget}"),
                "15m",
                "ticket",
                "{{ $labels.job }}: spend heading for {{ $value | humanize }} a day",
                &format!(
                    "At the last hour's rate, inference and GPU spend would reach {{{{ $value | humanize }}}} in a \
                     day, over the daily budget of {budget}. See which model or variant spends (the dashboard's \
                     cost row) before the day is out."
                ),
            ));
        }
        alerts
    }

    pub(super) fn alert(
        &self,
        alert: &str,
        expr: String,
        for_: &str,
        severity: &str,
        summary: &str,
        description: &str,
    ) -> Rule {
        Rule::Alert {
            alert: alert.into(),
            expr,
            for_: for_.into(),
            labels: vec![("severity".into(), severity.into())],
            annotations: vec![
                ("summary".into(), summary.into()),
                ("description".into(), description.into()),
                ("runbook_url".into(), self.runbook(alert)),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_alert_is_rendered_only_with_a_budget() {
        let names = |rules: &SloRules| -> Vec<String> {
            rules.engine_cost_alerts().iter().map(|r| r.name().to_owned()).collect()
        };
        assert_eq!(names(&SloRules::new()), ["InferwatchKvCacheSaturated"]);
        let with_budget = SloRules::new().daily_budget(250.0);
        assert_eq!(
            names(&with_budget),
            ["InferwatchKvCacheSaturated", "InferwatchDailyBudgetExceeded"]
        );
        assert_eq!(
            with_budget.engine_cost_alerts()[1].expr(),
            "job:inferwatch_spend:rate1h * 86400 > 250"
        );
        assert_eq!(
            SloRules::new().daily_budget(-1.0).groups().unwrap_err(),
            SloError::Budget(-1.0)
        );
        assert!(SloRules::new().daily_budget(f64::NAN).groups().is_err());
        assert!(SloRules::new().kv_cache_saturation(1.5).groups().is_err());
    }

    #[test]
    fn spend_sums_token_and_gpu_costs_per_job() {
        let rules = SloRules::new().selector(r#"job="m""#).engine_cost_recording();
        let spend = rules
            .iter()
            .find(|r| r.name() == "job:inferwatch_spend:rate1h")
            .expect("spend");
        assert_eq!(
            spend.expr(),
            r#"sum by (job) (rate({__name__=~"inferwatch_cost_total|inferwatch_gpu_cost_total",job="m"}[1h]))"#
        );
    }
}
