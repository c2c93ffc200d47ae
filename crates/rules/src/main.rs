//! `inferwatch-rules`: writes the Prometheus recording and alerting rules for inferwatch's metrics as YAML, ready
//! for `promtool check rules` and a Prometheus `rule_files` entry.
//!
//! ```text
//! inferwatch-rules --availability 0.999 --latency 2:0.95 --daily-budget 100 > inferwatch.rules.yml
//! ```

use std::process::ExitCode;

use clap::Parser;
use inferwatch_rules::SloRules;

/// Prometheus rules for inferwatch's metrics: SLO burn rates, GPU, readiness, traffic, anomaly, drift, cost and
/// KV-cache alerts. Objectives left out keep their defaults.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Share of requests that must not end in `server_error` (e.g. 0.999).
    #[arg(long)]
    availability: Option<f64>,
    /// Latency objective, `SECONDS:TARGET`: the share TARGET of inference requests ends within SECONDS.
    #[arg(long, value_parser = objective)]
    latency: Option<(f64, f64)>,
    /// Time-to-first-token objective, `SECONDS:TARGET`, for streamed requests.
    #[arg(long, value_parser = objective)]
    time_to_first_token: Option<(f64, f64)>,
    /// Alert when the day's projected spend exceeds this amount (the price table's currency).
    #[arg(long)]
    daily_budget: Option<f64>,
    /// Label matchers added to every selector, e.g. `job="model-server"`.
    #[arg(long)]
    selector: Option<String>,
    /// The runbook every alert links to.
    #[arg(long)]
    runbook_url: Option<String>,
    /// No GPU alerts (hosts without GPUs).
    #[arg(long)]
    without_gpu_alerts: bool,
}

/// `SECONDS:TARGET`, both numbers.
fn objective(text: &str) -> Result<(f64, f64), String> {
    let (seconds, target) = text.split_once(':').ok_or("expected SECONDS:TARGET, e.g. 2:0.95")?;
    let number = |s: &str| s.trim().parse::<f64>().map_err(|e| format!("{s:?}: {e}"));
    Ok((number(seconds)?, number(target)?))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut rules = SloRules::new();
    if let Some(target) = args.availability {
        rules = rules.availability(target);
    }
    if let Some((seconds, target)) = args.latency {
        rules = rules.latency(seconds, target);
    }
    if let Some((seconds, target)) = args.time_to_first_token {
        rules = rules.time_to_first_token(seconds, target);
    }
    if let Some(amount) = args.daily_budget {
        rules = rules.daily_budget(amount);
    }
    if let Some(selector) = args.selector {
        rules = rules.selector(selector);
    }
    if let Some(url) = args.runbook_url {
        rules = rules.runbook_url(url);
    }
    if args.without_gpu_alerts {
        rules = rules.without_gpu_alerts();
    }
    match rules.to_yaml() {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("inferwatch-rules: {e}");
            ExitCode::FAILURE
        }
    }
}
