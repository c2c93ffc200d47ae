//! The admission queue: requests waiting now, by model, and how long the scheduled ones waited.

use std::time::Duration;

use metrics::{Gauge, Histogram};

use super::cache::HandleCache;
use crate::contract as c;
use crate::labels::LabelValue;
use crate::shared_recorder::SharedRecorder;

/// A request joined the queue, or left it: scheduled after this long, or abandoned.
pub(super) enum QueueChange {
    Entered,
    Scheduled(Duration),
    Abandoned,
}

#[derive(Default)]
pub(super) struct QueueInstruments {
    waiting: HandleCache<u32, Gauge>,
    waited: HandleCache<u32, Histogram>,
}

impl QueueInstruments {
    pub(super) fn record(&self, r: &SharedRecorder, model: Option<&LabelValue>, change: QueueChange) {
        let (id, name) = model.map_or((u32::MAX, ""), |m| (m.id(), m.as_str()));
        let waiting = || r.gauge(&c::REQUESTS_WAITING, &[name]);
        match change {
            QueueChange::Entered => self.waiting.with(id, waiting, |g| g.increment(1.0)),
            QueueChange::Scheduled(waited) => {
                self.waiting.with(id, waiting, |g| g.decrement(1.0));
                let register = || r.histogram(&c::REQUEST_QUEUE_DURATION, &[name]);
                self.waited.with(id, register, |h| h.record(waited.as_secs_f64()));
            }
            QueueChange::Abandoned => self.waiting.with(id, waiting, |g| g.decrement(1.0)),
        }
    }

    /// The allowed models' series at zero.
    pub(super) fn create_known(&self, r: &SharedRecorder, models: &[LabelValue]) {
        for model in models {
            r.gauge(&c::REQUESTS_WAITING, &[model.as_str()]).set(0.0);
            let _ = r.histogram(&c::REQUEST_QUEUE_DURATION, &[model.as_str()]);
        }
    }
}
