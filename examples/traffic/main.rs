//! Drives either example server with the mix a real deployment sees: streamed and whole answers, several models,
//! some invalid requests, some server errors asked for through the examples' fault-injection header, and clients
//! that hang up mid-stream. Prints a progress line every second and a closing summary (requests by outcome,
//! latency percentiles, time to first token, tokens per second).
//!
//! Against the OpenAI-compatible axum example it sends text and chat completions; with `--grpc`, against the
//! KServe v2 tonic example, it sends `ModelInfer` for whole answers and `ModelStreamInfer` for streams.
//!
//! ```text
//! cargo run --example axum_server --features full &
//! cargo run --example traffic -- --url http://127.0.0.1:8080 --duration-s 60 --concurrency 8
//! cargo run --example traffic -- --server-error-rate 0.3   # make the availability alerts fire
//! cargo run --example traffic -- --url http://127.0.0.1:8080,http://127.0.0.1:8081   # round robin over replicas
//!
//! cargo run --example tonic_server --features full -- --model toy,toy-large &
//! cargo run --example traffic -- --grpc --models toy,toy-large --duration-s 60
//! ```

#[path = "../tonic_server/bytes_tensor.rs"]
mod bytes_tensor;
#[path = "../shared/fault.rs"]
mod fault;
mod grpc;
mod http;
#[allow(dead_code)] // the server half of the protocol is the tonic example's
#[path = "../tonic_server/messages.rs"]
mod messages;
mod prices;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug, Clone)]
#[command(about = "Traffic generator for the inferwatch examples (axum: OpenAI-compatible; --grpc: KServe v2)")]
struct Args {
    /// Drive the KServe v2 gRPC example (tonic_server) instead of the OpenAI-compatible HTTP one.
    #[arg(long)]
    grpc: bool,
    /// Base URL of the server [default: http://127.0.0.1:8080, with --grpc http://127.0.0.1:50051]; several,
    /// comma-separated, are replicas of one fleet, sent requests in turn as a round-robin load balancer would.
    #[arg(long, value_delimiter = ',')]
    url: Vec<String>,
    /// Stop after this many seconds (whichever of --duration-s and --requests comes first).
    #[arg(long, default_value_t = 30.0)]
    duration_s: f64,
    /// Stop after this many requests.
    #[arg(long, default_value_t = u64::MAX)]
    requests: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Share of requests that stream.
    #[arg(long, default_value_t = 0.6)]
    stream_rate: f64,
    /// Share of streaming clients that hang up after the first token.
    #[arg(long, default_value_t = 0.05)]
    hangup_rate: f64,
    /// Share of invalid requests (unknown model, malformed request, bad max_tokens).
    #[arg(long, default_value_t = 0.05)]
    invalid_rate: f64,
    /// Share of requests that ask the example to fail (`x-inferwatch-fault: server-error`: HTTP 500, gRPC INTERNAL).
    #[arg(long, default_value_t = 0.0)]
    server_error_rate: f64,
    /// Models to spread requests over [default: toy,toy-large; with --grpc: toy, the tonic example's default].
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Largest max_tokens asked for.
    #[arg(long, default_value_t = 24)]
    max_tokens: u32,
    /// Users to spread requests over, by `x-user-id` (the axum example's experiment assigns variants by it; 0:
    /// no header). HTTP only.
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Share of answers read to their end that the user then rates (`POST /v1/feedback`). HTTP only.
    #[arg(long, default_value_t = 0.0)]
    feedback_rate: f64,
    /// Share of ratings that are negative.
    #[arg(long, default_value_t = 0.1)]
    negative_rate: f64,
    /// Answering models (the response's `model`) users like less, e.g. `toy-v2,toy-large-v2`, the example's
    /// candidate builds.
    #[arg(long, value_delimiter = ',')]
    worse_models: Vec<String>,
    /// Share of ratings that are negative for answers of --worse-models.
    #[arg(long, default_value_t = 0.5)]
    worse_negative_rate: f64,
    /// After this many seconds, prompts change: three to five times longer, and in English, French and Spanish
    /// instead of English only (what the drift monitor should notice). HTTP only.
    #[arg(long)]
    shift_after_s: Option<f64>,
    /// A price table (the examples' JSON format): every stream asks for its usage, and the summary adds what the
    /// answers read to their end cost, computed exactly from the usage the server returned. HTTP only.
    #[arg(long)]
    prices: Option<std::path::PathBuf>,
}

/// A small xorshift generator: reproducible mixes without a dependency.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

/// How a request is spoiled on purpose.
#[derive(Clone, Copy, Debug)]
enum Invalid {
    UnknownModel,
    /// Truncated JSON over HTTP; a request without its `text_input` over gRPC.
    Malformed,
    ZeroMaxTokens,
}

/// One request of the mix, whatever the protocol.
#[derive(Clone, Debug)]
struct Mix {
    model: String,
    prompt: String,
    max_tokens: u32,
    stream: bool,
    /// Chat rather than text completion (HTTP only).
    chat: bool,
    /// `stream_options.include_usage` (HTTP only).
    include_usage: bool,
    invalid: Option<Invalid>,
    hang_up: bool,
    fault: bool,
    /// The `x-user-id` sent.
    user: Option<u64>,
    /// Whether the user rates the answer, and a uniform draw in [0, 1) that decides how.
    rates: bool,
    rating_draw: f64,
}

impl Mix {
    fn draw(args: &Args, models: &[String], dice: &mut Dice, shifted: bool) -> Self {
        const ENGLISH: &[&str] = &[
            "tell", "me", "about", "the", "weather", "in", "a", "few", "short", "words",
        ];
        const FRENCH: &[&str] = &["dites", "moi", "la", "météo", "en", "quelques", "mots", "courts"];
        const SPANISH: &[&str] = &["dime", "el", "tiempo", "en", "pocas", "palabras", "cortas", "sobre"];
        let words = match shifted {
            false => ENGLISH,
            true => *dice.pick(&[ENGLISH, FRENCH, SPANISH]),
        };
        let model = dice.pick(models).clone();
        let stream = dice.chance(args.stream_rate);
        let max_tokens = 1 + (dice.next() % u64::from(args.max_tokens.max(1))) as u32;
        let chat = dice.chance(0.5);
        let length = if shifted {
            20 + dice.next() % 21
        } else {
            2 + dice.next() % 8
        };
        let prompt: Vec<&str> = (0..length).map(|_| *dice.pick(words)).collect();
        let include_usage = stream && (dice.chance(0.5) || args.prices.is_some());
        let invalid = dice.chance(args.invalid_rate).then(|| match dice.next() % 3 {
            0 => Invalid::UnknownModel,
            1 => Invalid::Malformed,
            _ => Invalid::ZeroMaxTokens,
        });
        Mix {
            model,
            prompt: prompt.join(" "),
            max_tokens,
            stream,
            chat,
            include_usage,
            invalid,
            hang_up: stream && dice.chance(args.hangup_rate),
            fault: dice.chance(args.server_error_rate),
            user: (args.users > 0).then(|| dice.next() % args.users),
            rates: dice.chance(args.feedback_rate),
            rating_draw: (dice.next() % 1_000_000) as f64 / 1_000_000.0,
        }
    }
}

/// What one request came to, from the client's side.
struct Record {
    /// `ok`, `client_error`, `server_error`, `hung_up`, `connection_error`, ...
    outcome: &'static str,
    /// Set for answers read to their end.
    latency: Option<Duration>,
    /// Set for streams that produced a token.
    ttft: Option<Duration>,
    output_tokens: u64,
    /// The rating sent for the answer, and whether the server attributed it.
    feedback: Option<(&'static str, bool)>,
    /// The model asked for, and the usage the server returned (input and output tokens).
    usage: Option<(String, u64, u64)>,
}

impl Record {
    fn failed(outcome: &'static str) -> Self {
        Record {
            outcome,
            latency: None,
            ttft: None,
            output_tokens: 0,
            feedback: None,
            usage: None,
        }
    }
}

#[derive(Default)]
struct Stats {
    outcomes: BTreeMap<&'static str, u64>,
    latencies_ms: Vec<f64>,
    ttfts_ms: Vec<f64>,
    output_tokens: u64,
    feedback: BTreeMap<&'static str, u64>,
    feedback_attributed: u64,
    /// Input and output tokens by model, from the usage the server returned.
    usage: BTreeMap<String, (u64, u64)>,
    /// Requests sent to each replica (by its place in --url).
    by_replica: BTreeMap<usize, u64>,
}

impl Stats {
    fn add(&mut self, record: Record) {
        *self.outcomes.entry(record.outcome).or_default() += 1;
        if let Some((rating, attributed)) = record.feedback {
            *self.feedback.entry(rating).or_default() += 1;
            self.feedback_attributed += u64::from(attributed);
        }
        self.output_tokens += record.output_tokens;
        if let Some((model, input, output)) = record.usage {
            let tokens = self.usage.entry(model).or_default();
            tokens.0 += input;
            tokens.1 += output;
        }
        if let Some(latency) = record.latency {
            self.latencies_ms.push(latency.as_secs_f64() * 1000.0);
        }
        if let Some(ttft) = record.ttft {
            self.ttfts_ms.push(ttft.as_secs_f64() * 1000.0);
        }
    }
}

#[derive(Clone)]
enum Target {
    Http(http::Target),
    Grpc(grpc::Target),
}

impl Target {
    async fn send(&self, mix: Mix) -> Record {
        match self {
            Target::Http(target) => target.send(mix).await,
            Target::Grpc(target) => target.send(mix).await,
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let default_url = if args.grpc {
        "http://127.0.0.1:50051"
    } else {
        "http://127.0.0.1:8080"
    };
    let urls: Vec<&str> = match args.url.iter().filter(|u| !u.is_empty()).collect::<Vec<_>>() {
        urls if urls.is_empty() => vec![default_url],
        urls => urls.into_iter().map(String::as_str).collect(),
    };
    let (targets, default_models) = if args.grpc {
        let targets = urls.iter().map(|url| grpc::Target::new(url).map(Target::Grpc));
        (targets.collect::<Result<Vec<_>, _>>()?, vec!["toy".to_string()])
    } else {
        let ratings = http::Ratings {
            negative_rate: args.negative_rate,
            worse_models: args.worse_models.clone(),
            worse_negative_rate: args.worse_negative_rate,
        };
        let targets = urls
            .iter()
            .map(|url| Target::Http(http::Target::new(url, ratings.clone())));
        (targets.collect(), vec!["toy".into(), "toy-large".into()])
    };
    let targets = Arc::new(targets);
    let models = Arc::new(args.models.clone().filter(|m| !m.is_empty()).unwrap_or(default_models));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration_s);
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|worker| {
            let (targets, models, stats, issued, args) = (
                targets.clone(),
                models.clone(),
                stats.clone(),
                issued.clone(),
                args.clone(),
            );
            tokio::spawn(async move {
                let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() >= deadline || n >= args.requests {
                        break;
                    }
                    let shifted = args.shift_after_s.is_some_and(|s| started.elapsed().as_secs_f64() >= s);
                    let replica = (n % targets.len() as u64) as usize;
                    let record = targets[replica]
                        .send(Mix::draw(&args, &models, &mut dice, shifted))
                        .await;
                    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
                    stats.add(record);
                    *stats.by_replica.entry(replica).or_default() += 1;
                }
            })
        })
        .collect();
    let progress = tokio::spawn({
        let stats = stats.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let stats = stats.lock().unwrap_or_else(|e| e.into_inner());
                let total: u64 = stats.outcomes.values().sum();
                let elapsed = started.elapsed().as_secs_f64();
                let outcomes: Vec<String> = stats.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
                eprintln!(
                    "{elapsed:6.1} s  {total:6} requests  {:6.1} req/s  {}",
                    total as f64 / elapsed,
                    outcomes.join("  ")
                );
            }
        }
    });
    for worker in workers {
        let _ = worker.await;
    }
    progress.abort();
    let elapsed = started.elapsed().as_secs_f64();
    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
    stats.latencies_ms.sort_by(f64::total_cmp);
    stats.ttfts_ms.sort_by(f64::total_cmp);
    let total: u64 = stats.outcomes.values().sum();
    println!("requests: {total} in {elapsed:.1} s ({:.1}/s)", total as f64 / elapsed);
    for (outcome, count) in &stats.outcomes {
        println!("  {outcome:<16} {count}");
    }
    if urls.len() > 1 {
        for (replica, count) in &stats.by_replica {
            println!("replica {}: {count}", urls[*replica]);
        }
    }
    let (l, t) = (&stats.latencies_ms, &stats.ttfts_ms);
    println!(
        "latency ms (ok):   p50 {:.1}  p95 {:.1}  p99 {:.1}",
        percentile(l, 0.5),
        percentile(l, 0.95),
        percentile(l, 0.99)
    );
    println!(
        "time to first token ms (streams): p50 {:.1}  p95 {:.1}",
        percentile(t, 0.5),
        percentile(t, 0.95)
    );
    println!(
        "output tokens: {} ({:.1} tokens/s)",
        stats.output_tokens,
        stats.output_tokens as f64 / elapsed
    );
    if !stats.feedback.is_empty() {
        let sent: u64 = stats.feedback.values().sum();
        let ratings: Vec<String> = stats.feedback.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!(
            "feedback: {sent} sent ({}), {} attributed",
            ratings.join(", "),
            stats.feedback_attributed
        );
    }
    if let Some(path) = &args.prices {
        print!("{}", prices::summary(path, &stats.usage)?);
    }
    Ok(())
}
