//! The running totals of one price table, by model, by experiment variant and for the GPUs, rendered in the
//! Prometheus text format as exact decimals.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::money::{Money, decimal};
use super::spend::ModelSpend;
use inferwatch_core::contract::{self as c, label};

/// An experiment's variant: (experiment, variant) label values.
type Variant = (Arc<str>, Arc<str>);

/// Totals, created on first use and never removed: bounded by the model and experiment labels they are keyed by.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    models: Mutex<Vec<(Arc<str>, Arc<ModelSpend>)>>,
    experiments: Mutex<Vec<(Variant, Arc<Money>)>>,
    /// GPU time, in GPU-nanoseconds: its cost is computed exactly when rendered.
    gpu_nanos: AtomicU64,
}

impl Ledger {
    /// The spend of `model` (a bounded label value), created at zero on first use.
    pub(crate) fn model(&self, model: &Arc<str>) -> Arc<ModelSpend> {
        let mut models = self.models.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, spend)) = models.iter().find(|(m, _)| m == model) {
            return spend.clone();
        }
        let spend = Arc::new(ModelSpend::default());
        models.push((model.clone(), spend.clone()));
        spend
    }

    /// The total of a variant of an experiment (bounded label values), created at zero on first use.
    pub(crate) fn experiment(&self, experiment: &Arc<str>, variant: &Arc<str>) -> Arc<Money> {
        let mut experiments = self.experiments.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, money)) = experiments.iter().find(|((e, v), _)| e == experiment && v == variant) {
            return money.clone();
        }
        let money = Arc::new(Money::default());
        experiments.push(((experiment.clone(), variant.clone()), money.clone()));
        money
    }

    pub(crate) fn add_gpu_time(&self, gpu_nanos: u64) {
        self.gpu_nanos.fetch_add(gpu_nanos, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format: HELP naming the currency, TYPE, one line per series.
    /// `global` labels (the exporter's) come first on every line.
    pub(crate) fn render(&self, currency: &str, gpu_hour_micros: Option<u64>, global: &[(String, String)]) -> String {
        let mut out = String::new();
        let prefix: String = global.iter().map(|(k, v)| format!("{k}=\"{}\",", escape(v))).collect();
        let models = self.models.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if !models.is_empty() {
            let labels = |model: &str| format!("{prefix}{}=\"{}\"", label::GEN_AI_REQUEST_MODEL, escape(model));
            header(&mut out, c::Metric::CostTotal.def(), currency);
            for (model, spend) in &models {
                let total = decimal(spend.total().picos());
                let _ = writeln!(out, "{}{{{}}} {total}", c::Metric::CostTotal.def().name, labels(model));
            }
            header(&mut out, c::Metric::RequestCost.def(), currency);
            for (model, spend) in &models {
                spend.render_histogram(&mut out, c::Metric::RequestCost.def().name, &labels(model));
            }
        }
        let experiments = self.experiments.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if !experiments.is_empty() {
            header(&mut out, c::Metric::ExperimentCostTotal.def(), currency);
            for ((experiment, variant), money) in &experiments {
                let labels = format!(
                    "{prefix}{}=\"{}\",{}=\"{}\"",
                    label::EXPERIMENT,
                    escape(experiment),
                    label::VARIANT,
                    escape(variant)
                );
                let _ = writeln!(
                    out,
                    "{}{{{labels}}} {}",
                    c::Metric::ExperimentCostTotal.def().name,
                    decimal(money.picos())
                );
            }
        }
        if let Some(price) = gpu_hour_micros {
            header(&mut out, c::Metric::GpuCostTotal.def(), currency);
            // micro-units per hour × nanoseconds: 10⁻⁶ × 1/3.6·10¹² units; in picounits, ÷ 3.6·10⁶.
            let picos = u128::from(price) * u128::from(self.gpu_nanos.load(Ordering::Relaxed)) / 3_600_000;
            let labels = prefix.trim_end_matches(',');
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            };
            let _ = writeln!(out, "{}{labels} {}", c::Metric::GpuCostTotal.def().name, decimal(picos));
        }
        out
    }
}

fn header(out: &mut String, def: &c::MetricDef, currency: &str) {
    let _ = writeln!(out, "# HELP {} {} In {currency}.", def.name, def.description);
    let kind = if def.kind == c::MetricKind::Histogram {
        "histogram"
    } else {
        "counter"
    };
    let _ = writeln!(out, "# TYPE {} {kind}", def.name);
}

/// A label value as the text format needs it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exact_counters_with_the_currency() {
        let ledger = Ledger::default();
        ledger.model(&"toy".into()).record(1_350_000_000);
        ledger.model(&"toy".into()).record(1);
        ledger.experiment(&"rollout".into(), &"treatment".into()).add(2_000_000);
        // Two GPUs for half an hour at 2.49 an hour.
        ledger.add_gpu_time(2 * 1_800 * 1_000_000_000);
        let text = ledger.render("USD", Some(2_490_000), &[("region".into(), "eu\"1".into())]);
        assert!(text.contains("# HELP inferwatch_cost_total "), "{text}");
        assert!(
            text.contains(" In USD.\n# TYPE inferwatch_cost_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("inferwatch_cost_total{region=\"eu\\\"1\",gen_ai_request_model=\"toy\"} 0.001350000001\n"),
            "{text}"
        );
        assert!(text.contains(
            "inferwatch_experiment_cost_total{region=\"eu\\\"1\",experiment=\"rollout\",variant=\"treatment\"} 0.000002\n"
        ));
        assert!(
            text.contains("inferwatch_gpu_cost_total{region=\"eu\\\"1\"} 2.49\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE inferwatch_request_cost histogram\n"), "{text}");
        assert!(
            text.contains("inferwatch_request_cost_count{region=\"eu\\\"1\",gen_ai_request_model=\"toy\"} 2\n"),
            "{text}"
        );
        assert_eq!(Ledger::default().render("USD", None, &[]), "");
    }
}
