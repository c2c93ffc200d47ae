//! Drives the OpenAI-compatible example server with the mix a real deployment sees: text and chat completions,
//! streamed and not, several models, some invalid requests, some server errors asked for through the example's
//! fault-injection header, and clients that hang up mid-stream. Prints a progress line every second and a closing
//! summary (requests by outcome, latency percentiles, time to first token, tokens per second).
//!
//! ```text
//! cargo run --example axum_server &
//! cargo run --example traffic -- --url http://127.0.0.1:8080 --duration-s 60 --concurrency 8
//! cargo run --example traffic -- --server-error-rate 0.3   # make the availability alerts fire
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

#[derive(Parser, Debug, Clone)]
#[command(about = "Traffic generator for the inferwatch axum example")]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
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
    /// Share of invalid requests (unknown model, malformed JSON, bad max_tokens).
    #[arg(long, default_value_t = 0.05)]
    invalid_rate: f64,
    /// Share of requests that ask the example to fail with a 500 (header `x-inferwatch-fault: server-error`).
    #[arg(long, default_value_t = 0.0)]
    server_error_rate: f64,
    /// Models to spread requests over.
    #[arg(long, value_delimiter = ',', default_value = "toy,toy-large")]
    models: Vec<String>,
    /// Largest max_tokens asked for.
    #[arg(long, default_value_t = 24)]
    max_tokens: u32,
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

#[derive(Default)]
struct Stats {
    outcomes: BTreeMap<&'static str, u64>,
    latencies_ms: Vec<f64>,
    ttfts_ms: Vec<f64>,
    output_tokens: u64,
}

struct Plan {
    path: &'static str,
    body: Bytes,
    stream: bool,
    hang_up: bool,
    fault: bool,
}

fn plan(args: &Args, dice: &mut Dice) -> Plan {
    let model = dice.pick(&args.models).clone();
    let stream = dice.chance(args.stream_rate);
    let max_tokens = 1 + (dice.next() % u64::from(args.max_tokens.max(1))) as u32;
    let chat = dice.chance(0.5);
    let words = [
        "tell", "me", "about", "the", "weather", "in", "a", "few", "short", "words",
    ];
    let prompt: Vec<&str> = (0..2 + dice.next() % 8).map(|_| *dice.pick(&words)).collect();
    let prompt = prompt.join(" ");
    let mut body = if chat {
        json!({"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, "stream": stream})
    } else {
        json!({"model": model, "prompt": prompt, "max_tokens": max_tokens, "stream": stream})
    };
    if stream && dice.chance(0.5) {
        body["stream_options"] = json!({"include_usage": true});
    }
    let path = if chat {
        "/v1/chat/completions"
    } else {
        "/v1/completions"
    };
    let mut body = Bytes::from(body.to_string());
    if dice.chance(args.invalid_rate) {
        body = match dice.next() % 3 {
            0 => Bytes::from(json!({"model": "no-such-model", "prompt": "x"}).to_string()),
            1 => Bytes::from_static(b"{\"model\": \"toy\", \"prompt\": "),
            _ => Bytes::from(json!({"model": model, "prompt": "x", "max_tokens": 0}).to_string()),
        };
    }
    let hang_up = stream && dice.chance(args.hangup_rate);
    Plan {
        path,
        body,
        stream,
        hang_up,
        fault: dice.chance(args.server_error_rate),
    }
}

async fn one(client: &Client<HttpConnector, Full<Bytes>>, base: &str, plan: Plan, stats: &Mutex<Stats>) {
    let started = Instant::now();
    let mut request = Request::post(format!("{base}{}", plan.path)).header("content-type", "application/json");
    if plan.fault {
        request = request.header("x-inferwatch-fault", "server-error");
    }
    let Ok(request) = request.body(Full::new(plan.body)) else {
        return;
    };
    let outcome = match client.request(request).await {
        Err(_) => "connection_error",
        Ok(response) => {
            let status = response.status();
            let mut body = response.into_body();
            let mut ttft = None;
            let mut text = Vec::new();
            let mut hung_up = false;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(data) = frame.data_ref() {
                    ttft.get_or_insert_with(|| started.elapsed());
                    text.extend_from_slice(data);
                    // Only a stream that is actually streaming can be hung up on; errors are read whole.
                    if plan.hang_up && status == StatusCode::OK {
                        hung_up = true;
                        break;
                    }
                }
            }
            let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
            if status == StatusCode::OK && !hung_up {
                stats.latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                stats.output_tokens += output_tokens(&text, plan.stream);
                if let (true, Some(ttft)) = (plan.stream, ttft) {
                    stats.ttfts_ms.push(ttft.as_secs_f64() * 1000.0);
                }
            }
            match (hung_up, status.as_u16()) {
                (true, _) => "hung_up",
                (_, 200..=399) => "ok",
                (_, 400..=499) => "client_error",
                _ => "server_error",
            }
        }
    };
    *stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .outcomes
        .entry(outcome)
        .or_default() += 1;
}

/// Tokens the answer carried: `usage.completion_tokens` of a JSON body, or one per streamed content chunk.
fn output_tokens(body: &[u8], stream: bool) -> u64 {
    let text = String::from_utf8_lossy(body);
    if !stream {
        let value: Value = serde_json::from_str(&text).unwrap_or_default();
        return value["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| {
            let choice = &v["choices"][0];
            let piece = choice["text"].as_str().or_else(|| choice["delta"]["content"].as_str());
            piece.is_some_and(|p| !p.is_empty())
        })
        .count() as u64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let base = args.url.trim_end_matches('/').to_string();
    let stats = Arc::new(Mutex::new(Stats::default()));
    let issued = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration_s);
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|worker| {
            let (client, base, stats, issued, args) = (
                client.clone(),
                base.clone(),
                stats.clone(),
                issued.clone(),
                args.clone(),
            );
            tokio::spawn(async move {
                let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
                while Instant::now() < deadline
                    && issued.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < args.requests
                {
                    let plan = plan(&args, &mut dice);
                    one(&client, &base, plan, &stats).await;
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
}
