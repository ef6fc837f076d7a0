//! The cost of metrics (feature `metrics`) on the tell and ask paths, in one run:
//! 1,000,000 tells (and 100,000 asks) to one actor of a system with metrics off
//! (`ActorSystem::builder().metrics(false)`), on without a recorder, and on with the
//! Prometheus recorder (`bactor::metrics::prometheus()`), interleaved trials, medians.
//! The recorder cannot be removed once installed: the trials without it run first.
//!
//! `cargo run --release --features metrics --bin metrics_cost` (from `benches/`).

use std::time::{Duration, Instant};

use bactor::prelude::*;

mod shared;
use shared::{Sink, median};

const TELLS: u64 = 1_000_000;
const ASKS: u64 = 100_000;
const TRIALS: usize = 7;

async fn tells(metrics: bool) -> Duration {
    let system = ActorSystem::builder().metrics(metrics).build();
    let sink = system.spawn(Sink::default).await.unwrap();
    let start = Instant::now();
    for n in 0..TELLS {
        sink.add(n).tell().await.unwrap();
    }
    assert_eq!(sink.sum().await.unwrap(), (0..TELLS).sum::<u64>());
    let d = start.elapsed();
    system.shutdown().await;
    d
}

async fn asks(metrics: bool) -> Duration {
    let system = ActorSystem::builder().metrics(metrics).build();
    let sink = system.spawn(Sink::default).await.unwrap();
    let start = Instant::now();
    for _ in 0..ASKS {
        std::hint::black_box(sink.sum().await.unwrap());
    }
    let d = start.elapsed();
    system.shutdown().await;
    d
}

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

/// Off against on, interleaved, on `rt`: (off, on) medians in ns per message.
fn pair(rt: &tokio::runtime::Runtime, ask: bool) -> (f64, f64) {
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..TRIALS {
        if ask {
            off.push(rt.block_on(asks(false)));
            on.push(rt.block_on(asks(true)));
        } else {
            off.push(rt.block_on(tells(false)));
            on.push(rt.block_on(tells(true)));
        }
    }
    let n = if ask { ASKS } else { TELLS } as f64;
    let ns = |d: Duration| d.as_nanos() as f64 / n;
    (ns(median(off)), ns(median(on)))
}

fn main() {
    let scenarios = [
        ("tell, current_thread", false, false),
        ("tell, multi_thread (2 workers)", true, false),
        ("ask, current_thread", false, true),
    ];
    let runtimes = [runtime(false), runtime(true)];
    let without: Vec<(f64, f64)> = scenarios
        .iter()
        .map(|&(_, multi, ask)| pair(&runtimes[usize::from(multi)], ask))
        .collect();
    let prometheus = bactor::metrics::prometheus().expect("the first recorder");
    let with: Vec<(f64, f64)> = scenarios
        .iter()
        .map(|&(_, multi, ask)| pair(&runtimes[usize::from(multi)], ask))
        .collect();
    assert!(
        prometheus
            .render()
            .contains("bactor_messages_handled_total")
    );
    println!(
        "| scenario | metrics off | on, no recorder | cost | metrics off | on, Prometheus recorder | cost |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (((name, _, _), (off1, on1)), (off2, on2)) in scenarios.iter().zip(&without).zip(&with) {
        println!(
            "| {name} | {off1:.1} ns | {on1:.1} ns | {:+.1} ns ({:.2}x) | {off2:.1} ns | {on2:.1} ns | {:+.1} ns ({:.2}x) |",
            on1 - off1,
            on1 / off1,
            on2 - off2,
            on2 / off2
        );
    }
}
