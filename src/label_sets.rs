//! The bounded label sets one layer shares between its requests.

use crate::handle::operation;
use crate::labels::{BoundedLabels, LabelPolicy, LabelValue, MAX_NAME_BYTES, MAX_ROUTE_BYTES};

/// Default cap on distinct model names.
pub const DEFAULT_MAX_MODELS: usize = 32;
/// Default cap on distinct operation names beyond the well-known ones.
pub const DEFAULT_MAX_OPERATIONS: usize = 16;
/// Default cap on distinct routes (gRPC method paths are chosen by clients, so they need one).
pub const DEFAULT_MAX_ROUTES: usize = 256;

/// Routes, models and operations of one layer.
#[derive(Debug)]
pub struct LabelSets {
    pub(crate) routes: BoundedLabels,
    pub(crate) models: BoundedLabels,
    pub(crate) operations: BoundedLabels,
    pub(crate) default_operation: Option<LabelValue>,
}

impl LabelSets {
    pub(crate) fn new(models: LabelPolicy, max_operations: usize, max_routes: usize) -> Self {
        Self {
            routes: BoundedLabels::new(LabelPolicy::FirstN(max_routes), MAX_ROUTE_BYTES),
            models: BoundedLabels::new(models, MAX_NAME_BYTES),
            operations: BoundedLabels::with_seeds(
                LabelPolicy::FirstN(max_operations),
                MAX_NAME_BYTES,
                operation::WELL_KNOWN,
            ),
            default_operation: None,
        }
    }
}

impl Default for LabelSets {
    fn default() -> Self {
        Self::new(
            LabelPolicy::FirstN(DEFAULT_MAX_MODELS),
            DEFAULT_MAX_OPERATIONS,
            DEFAULT_MAX_ROUTES,
        )
    }
}
