//! What the answers cost, computed on the client's side from the usage the server returned, with the same price
//! table as the server but none of its code: an independent check of `inferwatch_cost_total`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Picounits (10⁻¹² of the currency) per unit.
const PICOS_PER_UNIT: u128 = 1_000_000_000_000;

/// Lines `cost <model> <currency> <decimal>` per priced model, then `cost total <currency> <decimal>`, exact.
pub fn summary(path: &Path, usage: &BTreeMap<String, (u64, u64)>) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let currency = table["currency"].as_str().unwrap_or("?");
    // A price per million tokens in micro-units is the price of one token in picounits.
    let micros = |v: &Value| (v.as_f64().unwrap_or(0.0) * 1e6).round() as u128;
    let mut out = String::new();
    let mut total = 0u128;
    for (model, (input, output)) in usage {
        let price = &table["models"][model];
        if price.is_null() {
            continue;
        }
        let picos = u128::from(*input) * micros(&price["input"]) + u128::from(*output) * micros(&price["output"]);
        total += picos;
        out.push_str(&format!("cost {model} {currency} {}\n", decimal(picos)));
    }
    out.push_str(&format!("cost total {currency} {}\n", decimal(total)));
    Ok(out)
}

fn decimal(picos: u128) -> String {
    let fraction = format!("{:012}", picos % PICOS_PER_UNIT);
    let fraction = fraction.trim_end_matches('0');
    match fraction {
        "" => (picos / PICOS_PER_UNIT).to_string(),
        _ => format!("{}.{fraction}", picos / PICOS_PER_UNIT),
    }
}
