//! Prometheus rule groups as data, and their YAML.

use std::fmt::Write as _;

/// Where the runbook lives; each alert links to its section.
pub(crate) const DEFAULT_RUNBOOK_URL: &str = "https://github.com/inferwatch/inferwatch/blob/main/docs/RUNBOOK.md";

/// A rule group of a Prometheus rules file.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleGroup {
    /// Group name.
    pub name: String,
    /// Evaluation interval, when not the global one (`30s`).
    pub interval: Option<String>,
    /// Its rules, in evaluation order.
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// `record: name` / `expr`.
    Record {
        /// The recorded series' name (`level:metric:operations`).
        record: String,
        /// PromQL.
        expr: String,
    },
    /// `alert: name` with its condition, duration, labels and annotations.
    Alert {
        /// Alert name.
        alert: String,
        /// PromQL condition.
        expr: String,
        /// How long the condition must hold (`2m`).
        for_: String,
        /// Labels (`severity`, …).
        labels: Vec<(String, String)>,
        /// Annotations (`summary`, `description`, `runbook_url`).
        annotations: Vec<(String, String)>,
    },
}

impl Rule {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Record { record, .. } => record,
            Rule::Alert { alert, .. } => alert,
        }
    }

    /// The PromQL expression.
    pub fn expr(&self) -> &str {
        match self {
            Rule::Record { expr, .. } | Rule::Alert { expr, .. } => expr,
        }
    }
}

/// A YAML scalar that no value can break out of: single-quoted (readable PromQL) unless it holds a line break or
/// control character, then double-quoted with escapes.
fn quoted(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rules file: `groups:` and every group, strings quoted so no value can change the YAML's structure.
pub fn to_yaml(groups: &[RuleGroup], header: &str) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    out.push_str("groups:\n");
    for group in groups {
        let _ = writeln!(out, "  - name: {}", quoted(&group.name));
        if let Some(interval) = &group.interval {
            let _ = writeln!(out, "    interval: {interval}");
        }
        out.push_str("    rules:\n");
        for rule in &group.rules {
            match rule {
                Rule::Record { record, expr } => {
                    let _ = writeln!(out, "      - record: {record}\n        expr: {}", quoted(expr));
                }
                Rule::Alert {
                    alert,
                    expr,
                    for_,
                    labels,
                    annotations,
                } => {
                    let _ = writeln!(
                        out,
                        "      - alert: {alert}\n        expr: {}\n        for: {for_}",
                        quoted(expr)
                    );
                    for (title, pairs) in [("labels", labels), ("annotations", annotations)] {
                        let _ = writeln!(out, "        {title}:");
                        for (key, value) in pairs {
                            let _ = writeln!(out, "          {key}: {}", quoted(value));
                        }
                    }
                }
            }
        }
    }
    out
}
