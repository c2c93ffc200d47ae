//! What inferwatch costs a request, measured two ways; `perf/run` drives both and prints every figure.
//!
//! - `perf inprocess`: an axum router called in process, every configuration in interleaved rounds (bare,
//!   inferwatch's metrics, axum-prometheus, tower-http's `TraceLayer`, inferwatch under `telemetry::init` with and
//!   without its log line, with OTLP export to `--collector`).
//! - `perf serve --stack bare|metrics|axum-prometheus|full --addr ...`: one server on one worker thread, for a load
//!   generator.

mod inprocess;
mod routes;
mod serve;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "inferwatch's cost per request, in process and over HTTP")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Interleaved in-process rounds; prints one line per configuration and the ratios the targets name.
    Inprocess {
        /// Rounds, each timing a block of calls through every configuration.
        #[arg(long, default_value_t = 200)]
        rounds: usize,
        /// Calls per block.
        #[arg(long, default_value_t = 64)]
        block: u32,
        /// OTLP/gRPC endpoint of a running collector, for the export configuration.
        #[arg(long)]
        collector: Option<String>,
        /// Runs only the configuration of this name, rounds × block calls (for a profiler).
        #[arg(long)]
        only: Option<String>,
    },
    /// One server, until Ctrl-C.
    Serve {
        #[arg(long, value_enum)]
        stack: serve::Stack,
        #[arg(long)]
        addr: SocketAddr,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Args::parse().command {
        Command::Inprocess {
            rounds,
            block,
            collector,
            only,
        } => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let figures = inprocess::run(&runtime, rounds, block, collector.as_deref(), only.as_deref());
            if only.is_some() {
                println!("{}: {:.0} ns per call", figures.medians[0].0, figures.medians[0].1);
                return Ok(());
            }
            println!("in process, {rounds} interleaved rounds of {block} calls, medians:");
            for ((name, median), (_, overhead)) in figures.medians.iter().zip(&figures.overheads) {
                println!("  {name:44} {median:9.0} ns   overhead {overhead:+9.0} ns");
            }
            let o = |name| figures.overhead(name);
            let full = o("inferwatch, telemetry::init");
            println!("ratios:");
            println!(
                "  metrics only / axum-prometheus            {:.2}",
                o("metrics only") / o("axum-prometheus")
            );
            println!(
                "  summary line (log on - log off)           {:.2} us",
                (full - o("inferwatch, telemetry::init, RUST_LOG=off")) / 1000.0
            );
            println!(
                "  full stack / TraceLayer INFO spans        {:.2}",
                full / o("TraceLayer INFO spans, telemetry::init")
            );
            println!(
                "  10% sampled / every request sampled      {:.2}",
                o("inferwatch, telemetry::init, 10% sampled") / full
            );
            if collector.is_some() {
                println!(
                    "  with OTLP export / without               {:.2}",
                    o("inferwatch, telemetry::init, OTLP export") / full
                );
            }
        }
        Command::Serve { stack, addr } => serve::serve(stack, addr)?,
    }
    Ok(())
}
