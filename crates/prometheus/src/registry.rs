//! The series of one kind by key, and the HELP texts: what the recorder registers into and a scrape renders from.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use indexmap::IndexMap;
use metrics::{Key, SharedString};
use metrics_exporter_prometheus::LabelSet;
use metrics_exporter_prometheus::formatting::{sanitize_metric_name, write_help_line, write_type_line};

/// Series by key, each shared with the handles registered for it.
#[derive(Debug)]
pub(super) struct SeriesMap<T>(RwLock<HashMap<Key, Arc<T>>>);

impl<T> Default for SeriesMap<T> {
    fn default() -> Self {
        Self(RwLock::default())
    }
}

/// One family: its sanitized name and its series, by labels.
type Family<T> = (String, Vec<(LabelSet, Arc<T>)>);

impl<T> SeriesMap<T> {
    /// The series of `key`, made by `make` the first time; registering a key twice gives the same series.
    pub(super) fn get_or_insert(&self, key: &Key, make: impl FnOnce() -> T) -> Arc<T> {
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner).get(key).cloned();
        known.unwrap_or_else(|| {
            let mut series = self.0.write().unwrap_or_else(PoisonError::into_inner);
            series.entry(key.clone()).or_insert_with(|| Arc::new(make())).clone()
        })
    }

    /// Appends every family of `kind` to `text` as the exporter writes one: its HELP and TYPE lines, `write` for
    /// each series, then an empty line.
    pub(super) fn render(
        &self,
        text: &mut String,
        kind: &str,
        global_labels: &IndexMap<String, String>,
        descriptions: &Descriptions,
        mut write: impl FnMut(&mut String, &str, &LabelSet, &T),
    ) {
        for (name, series) in self.families(global_labels) {
            descriptions.write_header(text, &name, kind);
            for (labels, series) in &series {
                write(text, &name, labels, series);
            }
            text.push('\n');
        }
    }

    /// Families by name and series by labels, so that what a scrape renders comes in a stable order.
    fn families(&self, global_labels: &IndexMap<String, String>) -> Vec<Family<T>> {
        let mut families: HashMap<String, Vec<(LabelSet, Arc<T>)>> = HashMap::new();
        for (key, series) in self.0.read().unwrap_or_else(PoisonError::into_inner).iter() {
            let labels = LabelSet::from_key_and_global(key, global_labels);
            families
                .entry(sanitize_metric_name(key.name()))
                .or_default()
                .push((labels, series.clone()));
        }
        let mut families: Vec<Family<T>> = families.into_iter().collect();
        families.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, series) in &mut families {
            series.sort_by_cached_key(|(labels, _)| labels.to_strings().collect::<Vec<_>>());
        }
        families
    }
}

/// HELP texts by sanitized name.
#[derive(Debug, Default)]
pub(super) struct Descriptions(RwLock<HashMap<String, SharedString>>);

impl Descriptions {
    pub(super) fn insert(&self, name: &str, description: SharedString) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sanitize_metric_name(name), description);
    }

    /// A family's HELP line (when it was described) and TYPE line, as the exporter writes them.
    fn write_header(&self, text: &mut String, name: &str, kind: &str) {
        if let Some(help) = self.0.read().unwrap_or_else(PoisonError::into_inner).get(name) {
            write_help_line(text, name, None, None, help);
        }
        write_type_line(text, name, None, None, kind);
    }
}
