//! The bounded experiment and variant labels of one layer: only declared experiments, and only their declared
//! variants, become label values; anything else is `_OTHER`.

use std::collections::HashSet;

use crate::labels::{BoundedLabels, LabelPolicy, LabelValue, MAX_NAME_BYTES};

/// An experiment's name and its variants' names, as declared.
pub(crate) type Declared = (String, Vec<String>);

/// An A/B experiment as a layer declares it
/// ([`InferenceLayerBuilder::experiment`](crate::InferenceLayerBuilder::experiment)): its name and its variants'
/// become the only experiment and variant labels. `inferwatch_model::experiment::Experiment` is one.
pub trait ExperimentDeclaration {
    /// The experiment's name.
    fn experiment_name(&self) -> &str;
    /// Its variants' names, in declaration order.
    fn variant_names(&self) -> Vec<&str>;
}

#[derive(Debug)]
pub(crate) struct ExperimentLabels {
    experiments: BoundedLabels,
    variants: BoundedLabels,
    /// (experiment id, variant id) of every declared pair.
    pairs: HashSet<(u32, u32)>,
}

impl Default for ExperimentLabels {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl ExperimentLabels {
    pub(crate) fn new(declared: &[Declared]) -> Self {
        let names: Vec<&str> = declared.iter().map(|(name, _)| name.as_str()).collect();
        let variant_names: Vec<&str> = declared
            .iter()
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect();
        let nothing_else = || LabelPolicy::AllowList(HashSet::new());
        let experiments = BoundedLabels::with_seeds(nothing_else(), MAX_NAME_BYTES, &names);
        let variants = BoundedLabels::with_seeds(nothing_else(), MAX_NAME_BYTES, &variant_names);
        let pairs = declared
            .iter()
            .flat_map(|(name, vs)| {
                let e = experiments.get_ref(name).id();
                vs.iter().map(move |v| (e, v.as_str()))
            })
            .map(|(e, v)| (e, variants.get_ref(v).id()))
            .collect();
        Self {
            experiments,
            variants,
            pairs,
        }
    }

    /// The label ids of a request's experiment and variant: `_OTHER` (0) for an undeclared experiment, and for
    /// a variant not declared for it.
    pub(crate) fn resolve(&self, experiment: &str, variant: &str) -> (u32, u32) {
        let e = self.experiments.get_ref(experiment).id();
        let v = self.variants.get_ref(variant).id();
        if e != 0 && self.pairs.contains(&(e, v)) {
            (e, v)
        } else {
            (e, 0)
        }
    }

    pub(crate) fn experiment(&self, id: u32) -> &LabelValue {
        self.experiments.by_id(id)
    }

    pub(crate) fn variant(&self, id: u32) -> &LabelValue {
        self.variants.by_id(id)
    }

    /// Every declared experiment with its declared variants.
    pub(crate) fn declared(&self) -> Vec<(LabelValue, Vec<LabelValue>)> {
        self.experiments
            .admitted()
            .into_iter()
            .map(|e| {
                let variants = self
                    .variants
                    .admitted()
                    .into_iter()
                    .filter(|v| self.pairs.contains(&(e.id(), v.id())))
                    .collect();
                (e, variants)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_declared_pairs_are_labels() {
        let labels = ExperimentLabels::new(&[
            ("rollout".into(), vec!["control".into(), "treatment".into()]),
            ("prompt".into(), vec!["control".into(), "short".into()]),
        ]);
        let name = |(e, v): (u32, u32)| (labels.experiment(e).as_str(), labels.variant(v).as_str());
        assert_eq!(name(labels.resolve("rollout", "treatment")), ("rollout", "treatment"));
        assert_eq!(name(labels.resolve("prompt", "control")), ("prompt", "control"));
        assert_eq!(name(labels.resolve("rollout", "short")), ("rollout", "_OTHER"));
        assert_eq!(name(labels.resolve("other", "control")), ("_OTHER", "_OTHER"));
        for i in 0..10_000 {
            let (e, v) = labels.resolve(&format!("e{i}"), &format!("v{i}"));
            assert_eq!((e, v), (0, 0));
        }
        let declared = labels.declared();
        assert_eq!(declared.len(), 2);
        assert_eq!(declared[1].1.len(), 2);
    }
}
