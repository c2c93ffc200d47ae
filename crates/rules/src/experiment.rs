//! Rules that judge experiments: per-variant recording rules, and alerts when a treatment is significantly worse
//! than its control.
//!
//! Over a window (1 h by default) and across every instance, for each variant: requests, server errors and their
//! ratio, p95 latency and time to first token, mean quality score per evaluator, feedback and the negative share.
//! For each treatment against the control (the first declared variant), a two-proportion z statistic
//!
//! ```text
//! z = (p_t − p_c) / √(p̂ (1 − p̂) (1/n_t + 1/n_c)),   p̂ = (x_t + x_c) / (n_t + n_c)
//! ```
//!
//! on the server-error ratio (x errors of n requests) and on the negative-feedback ratio (x negative of n
//! ratings). An alert fires when z exceeds the threshold (3 by default: a one-sided false alarm rate of 0.13 %
//! per evaluation) with at least the minimum count in both variants; and when the treatment's p95 latency
//! exceeds the control's by a factor (1.5 by default) with the same minimum. Each alert is labelled with the
//! experiment and the worse variant.
//!
//! ```
//! use inferwatch_model::experiment::Experiment;
//! use inferwatch_rules::ExperimentRules;
//!
//! let rollout = Experiment::builder("rollout").variant("control", 0.9).variant("treatment", 0.1).build().unwrap();
//! let yaml = ExperimentRules::new().experiment(&rollout).min_samples(500).to_yaml();
//! assert!(yaml.contains("alert: InferwatchExperimentErrorRegression"));
//! ```

use super::rules::{self, DEFAULT_RUNBOOK_URL, Rule, RuleGroup};
use inferwatch_core::contract as c;
use inferwatch_model::experiment::Experiment;

/// Renders the rules of declared experiments.
#[derive(Clone, Debug)]
pub struct ExperimentRules {
    experiments: Vec<(String, String)>,
    window: String,
    min_samples: u64,
    z_threshold: f64,
    latency_factor: f64,
    for_: String,
    selector: String,
    runbook_url: String,
}

impl Default for ExperimentRules {
    fn default() -> Self {
        Self {
            experiments: Vec::new(),
            window: "1h".into(),
            min_samples: 500,
            z_threshold: 3.0,
            latency_factor: 1.5,
            for_: "10m".into(),
            selector: String::new(),
            runbook_url: DEFAULT_RUNBOOK_URL.into(),
        }
    }
}

impl ExperimentRules {
    /// No experiments yet; a 1 h window, 500 samples per variant, z above 3, latency × 1.5, for 10 minutes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Judges `experiment`: its first variant is the control, every other one a treatment.
    pub fn experiment(mut self, experiment: &Experiment) -> Self {
        if let Some(control) = experiment.variants().next() {
            self.experiments
                .push((experiment.name().to_owned(), control.to_owned()));
        }
        self
    }

    /// The window the variants are compared over (a PromQL duration, default `1h`).
    pub fn window(mut self, window: impl Into<String>) -> Self {
        self.window = window.into();
        self
    }

    /// The least requests (for errors and latency) or ratings (for feedback) each variant needs in the window
    /// before any verdict (default 500).
    pub fn min_samples(mut self, n: u64) -> Self {
        self.min_samples = n;
        self
    }

    /// The z statistic above which a treatment is worse (default 3).
    pub fn z_threshold(mut self, z: f64) -> Self {
        self.z_threshold = z;
        self
    }

    /// How many times the control's p95 latency the treatment's may reach before an alert (default 1.5).
    pub fn latency_factor(mut self, factor: f64) -> Self {
        self.latency_factor = factor;
        self
    }

    /// How long a verdict must hold before its alert fires (default `10m`).
    pub fn for_duration(mut self, duration: impl Into<String>) -> Self {
        self.for_ = duration.into();
        self
    }

    /// Extra label matchers for every selected series (e.g. `job="model-server"`).
    pub fn selector(mut self, matchers: impl Into<String>) -> Self {
        self.selector = matchers.into();
        self
    }

    /// Where the runbook lives; each alert links to its section.
    pub fn runbook_url(mut self, url: impl Into<String>) -> Self {
        self.runbook_url = url.into();
        self
    }

    /// One recording group and one alert group per experiment.
    pub fn groups(&self) -> Vec<RuleGroup> {
        let mut groups = Vec::new();
        for (experiment, control) in &self.experiments {
            let judged = Judged {
                rules: self,
                experiment,
                control,
            };
            groups.push(RuleGroup {
                name: format!("inferwatch-experiment-{experiment}"),
                interval: None,
                rules: judged.recording(),
            });
            groups.push(RuleGroup {
                name: format!("inferwatch-experiment-{experiment}-alerts"),
                interval: None,
                rules: judged.alerts(),
            });
        }
        groups
    }

    /// The rules file, ready for `rule_files:`.
    pub fn to_yaml(&self) -> String {
        let header = "Generated by inferwatch::slo::ExperimentRules; do not edit by hand.\n\
                      Treatments are compared with the control by two-proportion z-tests and a p95 latency ratio.";
        rules::to_yaml(&self.groups(), header)
    }
}

/// One experiment's rules.
struct Judged<'a> {
    rules: &'a ExperimentRules,
    experiment: &'a str,
    control: &'a str,
}

impl Judged<'_> {
    /// Label matchers: this experiment, the selector, and `extra`.
    fn sel(&self, extra: &str) -> String {
        let mut parts = vec![format!("experiment=\"{}\"", escape(self.experiment))];
        parts.extend(
            [extra, &self.rules.selector]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
        );
        format!("{{{}}}", parts.join(","))
    }

    fn control(&self) -> String {
        self.sel(&format!("variant=\"{}\"", escape(self.control)))
    }

    fn treatments(&self) -> String {
        self.sel(&format!("variant!=\"{}\"", escape(self.control)))
    }

    fn name(&self, what: &str) -> String {
        format!("experiment_variant:inferwatch_{what}:{}", self.rules.window)
    }

    fn recording(&self) -> Vec<Rule> {
        let w = &self.rules.window;
        let by = "sum by (experiment, variant)";
        let by_le = "sum by (experiment, variant, le)";
        let record = |record: String, expr: String| Rule::Record { record, expr };
        let requests = c::Metric::ExperimentRequestsTotal.def().name;
        let duration = c::Metric::ExperimentRequestDuration.def().name;
        let ttft = c::Metric::ExperimentTimeToFirstToken.def().name;
        let score = c::Metric::ExperimentQualityScore.def().name;
        let feedback = c::Metric::ExperimentFeedbackTotal.def().name;
        let mut rules = vec![
            record(
                self.name("requests"),
                format!("{by} (increase({requests}{}[{w}]))", self.sel("")),
            ),
            record(
                self.name("server_errors"),
                format!(
                    "{by} (increase({requests}{}[{w}]))",
                    self.sel(r#"outcome="server_error""#)
                ),
            ),
            record(
                self.name("error_ratio"),
                format!("{} / {}", self.name("server_errors"), self.name("requests")),
            ),
            record(
                self.name("request_duration_p95"),
                format!(
                    "histogram_quantile(0.95, {by_le} (rate({duration}_bucket{}[{w}])))",
                    self.sel("")
                ),
            ),
            record(
                self.name("time_to_first_token_p95"),
                format!(
                    "histogram_quantile(0.95, {by_le} (rate({ttft}_bucket{}[{w}])))",
                    self.sel("")
                ),
            ),
            record(
                format!("experiment_variant_evaluator:inferwatch_quality_score_mean:{w}"),
                format!(
                    "sum by (experiment, variant, evaluator) (rate({score}_sum{s}[{w}])) / sum by (experiment, \
                     variant, evaluator) (rate({score}_count{s}[{w}]))",
                    s = self.sel("")
                ),
            ),
            record(
                self.name("feedback"),
                format!("{by} (increase({feedback}{}[{w}]))", self.sel("")),
            ),
            record(
                self.name("negative_feedback"),
                format!("{by} (increase({feedback}{}[{w}]))", self.sel(r#"rating="negative""#)),
            ),
            record(
                self.name("negative_feedback_ratio"),
                format!("{} / {}", self.name("negative_feedback"), self.name("feedback")),
            ),
        ];
        rules.extend(self.z_rules("error", "server_errors", "requests", "error_ratio"));
        rules.extend(self.z_rules(
            "negative_feedback",
            "negative_feedback",
            "feedback",
            "negative_feedback_ratio",
        ));
        rules
    }

    /// The pooled ratio and the z statistic of each treatment, for `x` events (errors, negative ratings) of `n`
    /// trials, whose per-variant ratio is recorded as `ratio`.
    fn z_rules(&self, test: &str, x: &str, n: &str, ratio: &str) -> Vec<Rule> {
        let (t, c) = (self.treatments(), self.control());
        let against = |metric: &str| format!("{m}{t} + ignoring(variant) group_left {m}{c}", m = self.name(metric));
        let pooled = self.name(&format!("{test}_pooled_ratio"));
        let ratio = self.name(ratio);
        vec![
            Rule::Record {
                record: pooled.clone(),
                expr: format!("({}) / ({})", against(x), against(n)),
            },
            Rule::Record {
                record: self.name(&format!("{test}_z")),
                expr: format!(
                    "({ratio}{t} - ignoring(variant) group_left {ratio}{c}) / sqrt({pooled}{t} * (1 - {pooled}{t}) \
                     * (1 / {n_}{t} + ignoring(variant) group_left() (1 / {n_}{c})))",
                    n_ = self.name(n),
                ),
            },
        ]
    }

    /// `expr` kept only where both the treatment and its control have at least the minimum of `samples`.
    fn with_minimum(&self, expr: String, samples: &str) -> String {
        let min = self.rules.min_samples;
        let samples = self.name(samples);
        format!(
            "({expr}) and on(experiment, variant) ({samples}{t} >= {min}) and on(experiment) ({samples}{c} >= {min})",
            t = self.treatments(),
            c = self.control(),
        )
    }

    fn alerts(&self) -> Vec<Rule> {
        let r = self.rules;
        let t = self.treatments();
        let alert = |name: &str, expr: String, summary: String, description: String| Rule::Alert {
            alert: name.into(),
            expr,
            for_: r.for_.clone(),
            labels: vec![("severity".into(), "ticket".into())],
            annotations: vec![
                ("summary".into(), summary),
                ("description".into(), description),
                (
                    "runbook_url".into(),
                    format!("{}#{}", r.runbook_url, name.to_ascii_lowercase()),
                ),
            ],
        };
        let z = r.z_threshold;
        vec![
            alert(
                "InferwatchExperimentErrorRegression",
                self.with_minimum(format!("{}{t} > {z}", self.name("error_z")), "requests"),
                "{{ $labels.experiment }}: variant {{ $labels.variant }} fails more often than the control".into(),
                format!(
                    "Over the last {w}, the server-error ratio of variant {{{{ $labels.variant }}}} is significantly \
                     above the control's ({}): z = {{{{ $value | printf \"%.1f\" }}}} > {z}, with at least {} \
                     requests in each.",
                    self.control,
                    r.min_samples,
                    w = r.window,
                ),
            ),
            alert(
                "InferwatchExperimentFeedbackRegression",
                self.with_minimum(format!("{}{t} > {z}", self.name("negative_feedback_z")), "feedback"),
                "{{ $labels.experiment }}: users rate variant {{ $labels.variant }} worse than the control".into(),
                format!(
                    "Over the last {w}, the share of negative ratings of variant {{{{ $labels.variant }}}} is \
                     significantly above the control's ({}): z = {{{{ $value | printf \"%.1f\" }}}} > {z}, with at \
                     least {} ratings in each.",
                    self.control,
                    r.min_samples,
                    w = r.window,
                ),
            ),
            alert(
                "InferwatchExperimentLatencyRegression",
                self.with_minimum(
                    format!(
                        "{p}{t} > ignoring(variant) group_left() ({} * {p}{c})",
                        r.latency_factor,
                        p = self.name("request_duration_p95"),
                        c = self.control(),
                    ),
                    "requests",
                ),
                "{{ $labels.experiment }}: variant {{ $labels.variant }} is slower than the control".into(),
                format!(
                    "Over the last {w}, the p95 latency of variant {{{{ $labels.variant }}}} is \
                     {{{{ $value | humanizeDuration }}}}, more than {} times the control's ({}), with at least {} \
                     requests in each.",
                    r.latency_factor,
                    self.control,
                    r.min_samples,
                    w = r.window,
                ),
            ),
        ]
    }
}

/// A PromQL string literal's content: `\` and `"` escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout() -> Experiment {
        Experiment::builder("rollout")
            .variant("control", 0.5)
            .variant("treatment", 0.5)
            .build()
            .unwrap()
    }

    #[test]
    fn the_z_statistic_compares_each_treatment_with_the_control() {
        let groups = ExperimentRules::new().experiment(&rollout()).groups();
        assert_eq!(groups.len(), 2);
        let z = groups[0]
            .rules
            .iter()
            .find(|r| r.name() == "experiment_variant:inferwatch_error_z:1h")
            .unwrap();
        assert_eq!(
            z.expr(),
            "(experiment_variant:inferwatch_error_ratio:1h{experiment=\"rollout\",variant!=\"control\"} - \
             ignoring(variant) group_left experiment_variant:inferwatch_error_ratio:1h{experiment=\"rollout\",\
             variant=\"control\"}) / sqrt(experiment_variant:inferwatch_error_pooled_ratio:1h{experiment=\"rollout\",\
             variant!=\"control\"} * (1 - experiment_variant:inferwatch_error_pooled_ratio:1h{experiment=\"rollout\",\
             variant!=\"control\"}) * (1 / experiment_variant:inferwatch_requests:1h{experiment=\"rollout\",\
             variant!=\"control\"} + ignoring(variant) group_left() (1 / experiment_variant:inferwatch_requests:1h\
             {experiment=\"rollout\",variant=\"control\"})))"
        );
        let alerts = &groups[1].rules;
        assert_eq!(alerts.len(), 3);
        assert!(alerts[0].expr().ends_with(
            "and on(experiment) (experiment_variant:inferwatch_requests:1h{experiment=\"rollout\",variant=\"control\"} >= 500)"
        ));
    }

    #[test]
    fn names_are_escaped_in_selectors() {
        let odd = Experiment::builder("a\"b").variant("c\\d", 1.0).build().unwrap();
        let yaml = ExperimentRules::new().experiment(&odd).to_yaml();
        assert!(yaml.contains(r#"experiment="a\"b""#), "{yaml}");
    }

    #[test]
    fn committed_rules_file_is_this_apis_output() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/observability/rules/experiments.rules.yml"
        );
        let example = Experiment::builder("model-rollout")
            .variant("control", 0.5)
            .variant("treatment", 0.5)
            .build()
            .unwrap();
        let generated = ExperimentRules::new().experiment(&example).to_yaml();
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
