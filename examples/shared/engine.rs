//! The toy engine: a bounded admission queue in front of a continuous-batching loop, shaped like vLLM's and TGI's
//! schedulers, so that queueing, batch size, cache usage and preemptions are real and reported from its own state.
//!
//! Each model gets its own engine (its own queue, batch and cache). A step admits waiting sequences while the
//! batch has room and the cache holds their tokens, then every running sequence produces one token after the
//! token delay. The KV cache is a count of tokens held (prompt + generated) against a capacity; when running
//! sequences outgrow it, the youngest is preempted (its cache freed; it waits at the head of the queue and is
//! recomputed when readmitted), as vLLM does.

use std::collections::VecDeque;
use std::time::Duration;

use inferwatch::engine::EngineMetrics;
use inferwatch::{QueueWait, RequestHandle};
use tokio::sync::{mpsc, oneshot};

/// The engine's flags, the same in both examples.
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// Delay before each generated token, in milliseconds (one step of the engine's batch).
    #[arg(long, default_value_t = 10)]
    pub token_delay_ms: u64,
    /// Sequences each model's engine runs together; more wait in its queue.
    #[arg(long, default_value_t = 32)]
    pub max_batch: usize,
    /// Requests each model's queue holds; more are refused (429 over HTTP, RESOURCE_EXHAUSTED over gRPC).
    #[arg(long, default_value_t = 256)]
    pub queue_capacity: usize,
    /// Tokens each model's KV cache holds (prompt and generated tokens of the running batch).
    #[arg(long, default_value_t = 8192)]
    pub kv_cache_tokens: u64,
    /// Price table (JSON, see inferwatch::cost::Prices::from_json): costs per model and per GPU-hour.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/prices.json"))]
    pub prices: std::path::PathBuf,
}

impl EngineArgs {
    pub fn config(&self) -> EngineConfig {
        EngineConfig {
            max_batch: self.max_batch.max(1),
            queue_capacity: self.queue_capacity,
            kv_cache_tokens: self.kv_cache_tokens,
            token_delay: Duration::from_millis(self.token_delay_ms),
        }
    }
}

/// How an engine is sized.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// Sequences run together in one step at most.
    pub max_batch: usize,
    /// Sequences waiting at most; more are refused (429 / RESOURCE_EXHAUSTED).
    pub queue_capacity: usize,
    /// Tokens the KV cache holds.
    pub kv_cache_tokens: u64,
    /// Time one step (one token of every running sequence) takes.
    pub token_delay: Duration,
}

/// The queue is full: the caller answers 429 or RESOURCE_EXHAUSTED.
#[derive(Debug)]
pub struct QueueFull;

/// A request for `output` tokens after a prompt of `prompt` tokens.
struct Sequence {
    prompt: u64,
    output: u64,
    emitted: u64,
    scheduled: Option<oneshot::Sender<()>>,
    tokens: mpsc::Sender<()>,
}

impl Sequence {
    fn cache(&self) -> u64 {
        self.prompt + self.emitted
    }
}

/// One model's engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    queue: mpsc::Sender<Sequence>,
}

/// A submitted sequence: wait to be scheduled, then read its tokens as the engine produces them.
pub struct Generation {
    waiting: Option<(QueueWait, oneshot::Receiver<()>)>,
    tokens: mpsc::Receiver<()>,
}

impl Engine {
    /// Starts the engine's loop on the current runtime, reporting under `model`.
    pub fn start(model: &str, config: EngineConfig, metrics: EngineMetrics) -> Self {
        let (queue, waiting) = mpsc::channel(config.queue_capacity.max(1));
        metrics.set_kv_cache_usage(model, 0.0);
        tokio::spawn(run(model.to_owned(), config, metrics, waiting));
        Self { queue }
    }

    /// Queues the request (measured by the handle from now until the engine schedules it), or refuses it when the
    /// queue is full.
    pub fn submit(&self, handle: &RequestHandle, prompt: u64, output: u64) -> Result<Generation, QueueFull> {
        let (scheduled, on_scheduled) = oneshot::channel();
        let (tokens, receiver) = mpsc::channel(usize::try_from(output).unwrap_or(usize::MAX).max(1));
        let sequence = Sequence {
            prompt,
            output,
            emitted: 0,
            scheduled: Some(scheduled),
            tokens,
        };
        let waiting = handle.enter_queue();
        // A refused request never waited: the guard is dropped at once, and the gauge with it.
        self.queue.try_send(sequence).map_err(|_| QueueFull)?;
        Ok(Generation {
            waiting: Some((waiting, on_scheduled)),
            tokens: receiver,
        })
    }
}

impl Generation {
    /// Waits until the engine takes the sequence into its batch.
    pub async fn scheduled(&mut self) {
        if let Some((waiting, on_scheduled)) = self.waiting.take() {
            let _ = on_scheduled.await;
            waiting.scheduled();
        }
    }

    /// The next token: `false` once all are out.
    pub async fn next_token(&mut self) -> bool {
        self.scheduled().await;
        self.tokens.recv().await.is_some()
    }
}

async fn run(model: String, config: EngineConfig, metrics: EngineMetrics, mut queue: mpsc::Receiver<Sequence>) {
    let mut running: Vec<Sequence> = Vec::new();
    // Preempted sequences go first when there is room again.
    let mut preempted: VecDeque<Sequence> = VecDeque::new();
    let capacity = config.kv_cache_tokens.max(1);
    loop {
        while running.len() < config.max_batch {
            let next = match preempted.pop_front() {
                Some(sequence) => sequence,
                None if running.is_empty() => match queue.recv().await {
                    Some(sequence) => sequence,
                    None => return,
                },
                None => match queue.try_recv() {
                    Ok(sequence) => sequence,
                    Err(_) => break,
                },
            };
            if next.tokens.is_closed() {
                continue; // the client left while it waited
            }
            let used: u64 = running.iter().map(Sequence::cache).sum();
            if !running.is_empty() && used + next.cache() > capacity {
                preempted.push_front(next);
                break;
            }
            let mut next = next;
            if let Some(scheduled) = next.scheduled.take() {
                let _ = scheduled.send(());
            }
            running.push(next);
        }
        metrics.record_batch_size(running.len());
        tokio::time::sleep(config.token_delay).await;
        // One token for every running sequence; finished ones and those whose client left are dropped, which
        // closes their token channel.
        running.retain_mut(|s| {
            if s.emitted < s.output && s.tokens.try_send(()).is_ok() {
                s.emitted += 1;
            }
            s.emitted < s.output && !s.tokens.is_closed()
        });
        let mut preemptions = 0;
        while running.len() > 1 && running.iter().map(Sequence::cache).sum::<u64>() > capacity {
            if let Some(youngest) = running.pop() {
                preempted.push_front(youngest);
                preemptions += 1;
            }
        }
        metrics.add_preemptions(preemptions);
        let used: u64 = running.iter().map(Sequence::cache).sum();
        metrics.set_kv_cache_usage(&model, used as f64 / capacity as f64);
    }
}
