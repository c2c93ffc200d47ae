//! The bounded label sets one layer shares between its requests.

use std::sync::Arc;

use crate::handle::operation;
use crate::labels::{BoundedLabels, LabelPolicy, LabelValue, MAX_NAME_BYTES, MAX_ROUTE_BYTES};
use crate::stage::{StageSink, stage_name};

/// Default cap on distinct model names.
pub const DEFAULT_MAX_MODELS: usize = 32;
/// Default cap on distinct operation names beyond the well-known ones.
pub const DEFAULT_MAX_OPERATIONS: usize = 16;
/// Default cap on distinct stage names beyond the well-known ones.
pub const DEFAULT_MAX_STAGES: usize = 16;
/// Default cap on distinct routes (gRPC method paths are chosen by clients, so they need one).
pub const DEFAULT_MAX_ROUTES: usize = 256;

/// What one layer's requests share: bounded routes, models, operations and stages, and where stages record.
pub struct LabelSets {
    pub(crate) routes: BoundedLabels,
    pub(crate) models: BoundedLabels,
    pub(crate) operations: BoundedLabels,
    pub(crate) stages: BoundedLabels,
    pub(crate) default_operation: Option<LabelValue>,
    pub(crate) stage_sink: Option<Arc<dyn StageSink>>,
    /// Prompt and completion text go into spans only when set (truncated to this many characters).
    pub(crate) capture_content: Option<usize>,
}

impl std::fmt::Debug for LabelSets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelSets")
            .field("routes", &self.routes)
            .field("models", &self.models)
            .field("operations", &self.operations)
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
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
            stages: BoundedLabels::with_seeds(
                LabelPolicy::FirstN(DEFAULT_MAX_STAGES),
                MAX_NAME_BYTES,
                stage_name::WELL_KNOWN,
            ),
            default_operation: None,
            stage_sink: None,
            capture_content: None,
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
