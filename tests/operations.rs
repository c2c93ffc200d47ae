//! The operations kit names only metrics the contract defines: every series in the Grafana dashboard and in the
//! generated rules is a contract metric (or one of its `_bucket`/`_count`/`_sum` series), a recording rule the
//! rules file defines, or a label the contract sets.

use std::collections::BTreeSet;

use inferwatch::contract::{self, MetricKind};
use inferwatch::experiment::Experiment;
use inferwatch::slo::{ExperimentRules, Rule, RuleGroup, SloRules};

const DASHBOARD: &str = include_str!("../examples/observability/grafana/dashboards/inferwatch.json");

/// Prefixes of every name the kit may use; anything else in an expression is PromQL (functions, keywords).
const PREFIXES: &[&str] = &[
    "inferwatch_",
    "gen_ai_",
    "http_",
    "rpc_",
    "hw_",
    "system_",
    "process_",
    "job:",
    "job_model:",
    "experiment_variant:",
    "experiment_variant_evaluator:",
];

/// Every rule group the kit ships: the SLO rules and the rules of an experiment.
fn all_groups() -> Vec<RuleGroup> {
    let experiment = Experiment::builder("model-rollout")
        .variant("control", 0.5)
        .variant("treatment", 0.5)
        .build()
        .expect("experiment");
    let mut groups = SloRules::new().groups().expect("default objectives");
    groups.extend(ExperimentRules::new().experiment(&experiment).groups());
    groups
}

/// Identifiers in a PromQL expression that look like ours.
fn names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c == '"' {
            in_string = !in_string;
            current.clear();
            continue;
        }
        if !in_string && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            current.push(c);
        } else {
            if PREFIXES.iter().any(|p| current.starts_with(p)) {
                out.push(current.clone());
            }
            current.clear();
        }
    }
    out
}

fn recorded() -> BTreeSet<String> {
    let groups = all_groups();
    groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter(|r| matches!(r, Rule::Record { .. }))
        .map(|r| r.name().to_string())
        .collect()
}

/// Why `name` is unknown, or `None` when the contract (or the rules file) has it.
fn unknown(name: &str, recorded: &BTreeSet<String>) -> Option<String> {
    if name.contains(':') {
        return (!recorded.contains(name)).then(|| format!("{name}: no such recording rule"));
    }
    let labels: BTreeSet<&str> = contract::ALL.iter().flat_map(|m| m.labels.iter().copied()).collect();
    if labels.contains(name) {
        return None;
    }
    if contract::find(name).is_some() {
        return None;
    }
    for suffix in ["_bucket", "_count", "_sum"] {
        if let Some(base) = name.strip_suffix(suffix)
            && contract::find(base).is_some_and(|m| m.kind == MetricKind::Histogram)
        {
            return None;
        }
    }
    Some(format!("{name}: not in the contract"))
}

#[test]
fn the_extractor_finds_names_and_flags_strangers() {
    let found =
        names(r#"sum by (gen_ai_token_type) (rate(inferwatch_tokens_total{job=~"$job"}[5m])) / inferwatch_bogus"#);
    assert_eq!(
        found,
        ["gen_ai_token_type", "inferwatch_tokens_total", "inferwatch_bogus"]
    );
    let recorded = recorded();
    assert_eq!(
        unknown("inferwatch_bogus", &recorded).as_deref(),
        Some("inferwatch_bogus: not in the contract")
    );
    assert!(
        unknown("inferwatch_tokens_total_bucket", &recorded).is_some(),
        "a counter has no buckets"
    );
    assert!(unknown("job:inferwatch_nothing:ratio_rate5m", &recorded).is_some());
    assert_eq!(
        unknown("gen_ai_server_time_to_first_token_seconds_bucket", &recorded),
        None
    );
}

#[test]
fn every_dashboard_metric_is_in_the_contract() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
    let recorded = recorded();
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut exprs = Vec::new();
    for panel in panels {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().expect("expr").to_string());
        }
    }
    let problems: Vec<String> = exprs
        .iter()
        .flat_map(|e| names(e))
        .filter_map(|n| unknown(&n, &recorded))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");

    // What operators look for first is there.
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for wanted in [
        "Request rate by outcome",
        "Error ratio (server errors)",
        "Inference request duration",
        "Time to first token",
        "Time per output token",
        "Tokens per second",
        "In flight",
        "Stage breakdown (mean seconds per request)",
        "GPU utilisation",
        "GPU memory used",
        "GPU power",
        "Health checks (1 pass, 0.5 warn, 0 fail)",
        "Server-error ratio by variant",
        "Negative feedback ratio by variant",
        "Regression z statistics (alert above 3)",
        "Quality score (mean) by evaluator and model",
        "Empty, truncated and filtered answers",
        "Time to first token: queueing and prefill",
        "KV cache usage",
        "Projected spend for the day",
        "Cost per million output tokens",
        "Energy per output token",
        "Drift (PSI) by feature and model",
        "Traffic against its last day (z)",
        "Server-error ratio by replica",
        "Requests per second by replica",
    ] {
        assert!(titles.contains(&wanted), "missing panel {wanted}");
    }
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| names(e)).collect();
    for metric in [
        "inferwatch_requests_total",
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "hw_power_watts",
        "inferwatch_experiment_feedback_total",
        "inferwatch_feedback_total",
        "inferwatch_quality_score_sum",
        "inferwatch_request_queue_duration_seconds_sum",
        "inferwatch_requests_waiting",
        "inferwatch_engine_batch_size_bucket",
        "inferwatch_engine_preemptions_total",
        "inferwatch_cost_total",
        "inferwatch_gpu_cost_total",
        "inferwatch_experiment_cost_total",
        "inferwatch_request_cost_bucket",
        "job:inferwatch_spend:rate1h",
        "job_model:inferwatch_truncation:ratio_rate5m",
        "job_model:inferwatch_content_filter:ratio_rate5m",
        "inferwatch_drift_psi",
        "inferwatch_drift_window_observations",
        "job:inferwatch_requests:rate5m:z1d",
    ] {
        assert!(used.contains(metric), "{metric} not charted");
    }
}

/// A fleet view and an instance drill-down: every selector of an exported series (recorded rules are per job and
/// have no instance) takes both variables, and the instance variable's "All" is the whole fleet.
#[test]
fn every_dashboard_series_follows_the_job_and_instance_variables() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard is JSON");
    let variables = dashboard["templating"]["list"].as_array().expect("variables");
    let instance = variables
        .iter()
        .find(|v| v["name"] == "instance")
        .expect("an instance variable");
    assert_eq!(instance["allValue"], ".*");
    assert_eq!(instance["multi"], true);
    assert!(
        instance["query"]
            .as_str()
            .is_some_and(|q| q.contains(r#"{job=~"$job"}"#))
    );
    let mut selectors = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            for (at, _) in expr.match_indices('{') {
                let name: String = expr[..at]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                if name.is_empty() || name.contains(':') || expr[..at].ends_with("by (") {
                    continue;
                }
                selectors += 1;
                assert!(
                    expr[at..].starts_with(r#"{job=~"$job",instance=~"$instance""#),
                    "a selector without the fleet variables: {expr}"
                );
            }
        }
    }
    assert!(selectors > 60, "only {selectors} selectors checked");
}

#[test]
fn every_rule_metric_is_in_the_contract() {
    let recorded = recorded();
    let groups = all_groups();
    let problems: Vec<String> = groups
        .iter()
        .flat_map(|g| &g.rules)
        .flat_map(|r| names(r.expr()))
        .filter_map(|n| unknown(&n, &recorded))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let alerts: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| &g.rules)
        .filter(|r| matches!(r, Rule::Alert { .. }))
        .map(Rule::name)
        .collect();
    let runbook = include_str!("../docs/RUNBOOK.md");
    for alert in &alerts {
        assert!(
            runbook.contains(&format!("## {alert}")),
            "docs/RUNBOOK.md has no section for {alert}"
        );
    }
    for rule in groups.iter().flat_map(|g| &g.rules) {
        if let Rule::Alert {
            labels, annotations, ..
        } = rule
        {
            assert!(
                labels
                    .iter()
                    .any(|(k, v)| k == "severity" && ["page", "ticket", "info"].contains(&v.as_str())),
                "{rule:?}"
            );
            for key in ["summary", "description", "runbook_url"] {
                assert!(
                    annotations.iter().any(|(k, v)| k == key && !v.is_empty()),
                    "{} lacks {key}",
                    rule.name()
                );
            }
        }
    }
}
