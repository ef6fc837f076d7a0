//! bactor against a raw tokio channel baseline, in one run.
//!
//! `cargo run --release` (from `benches/`). Each scenario runs `TRIALS` times per runtime
//! flavour and reports the median. See RESULTS.md for numbers and the machine.

use std::time::{Duration, Instant};

use bactor::prelude::*;

mod shared;
use shared::{Sink, median};
use tokio::sync::{mpsc, oneshot};

const TELLS: u64 = 1_000_000;
const ASKS: u64 = 100_000;
const TRIALS: usize = 7;
/// Mailbox / channel capacity, the same on both sides.
const CAP: usize = 1024;

async fn baseline_tell() -> Duration {
    let (tx, mut rx) = mpsc::channel::<u64>(CAP);
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut sum = 0u64;
        let mut n = 0;
        while let Some(v) = rx.recv().await {
            sum = sum.wrapping_add(v);
            n += 1;
            if n == TELLS {
                break;
            }
        }
        let _ = done_tx.send(sum);
    });
    let start = Instant::now();
    for i in 0..TELLS {
        tx.send(i).await.unwrap();
    }
    let sum = done_rx.await.unwrap();
    let t = start.elapsed();
    assert_eq!(sum, TELLS * (TELLS - 1) / 2);
    t
}

/// The same channel used the way bactor uses it: `try_send` first, batched receive.
async fn tuned_tell() -> Duration {
    let (tx, mut rx) = mpsc::channel::<u64>(CAP);
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut sum = 0u64;
        let mut n = 0;
        let mut buf = Vec::with_capacity(64);
        while rx.recv_many(&mut buf, 64).await > 0 {
            for v in buf.drain(..) {
                sum = sum.wrapping_add(v);
                n += 1;
            }
            if n == TELLS {
                break;
            }
        }
        let _ = done_tx.send(sum);
    });
    let start = Instant::now();
    for i in 0..TELLS {
        if let Err(mpsc::error::TrySendError::Full(v)) = tx.try_send(i) {
            tx.send(v).await.unwrap();
        }
    }
    let sum = done_rx.await.unwrap();
    let t = start.elapsed();
    assert_eq!(sum, TELLS * (TELLS - 1) / 2);
    t
}

async fn bactor_tell() -> Duration {
    let system = ActorSystem::new();
    let sink = system.spawn(Sink::default).await.unwrap();
    let start = Instant::now();
    for i in 0..TELLS {
        sink.add(i).tell().await.unwrap();
    }
    let sum = sink.sum().await.unwrap();
    let t = start.elapsed();
    assert_eq!(sum, TELLS * (TELLS - 1) / 2);
    system.shutdown().await;
    t
}

async fn baseline_ask() -> Duration {
    let (tx, mut rx) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(CAP);
    tokio::spawn(async move {
        let mut sum = 0u64;
        while let Some((v, reply)) = rx.recv().await {
            sum = sum.wrapping_add(v);
            let _ = reply.send(sum);
        }
    });
    let start = Instant::now();
    let mut last = 0;
    for i in 0..ASKS {
        let (rtx, rrx) = oneshot::channel();
        tx.send((i, rtx)).await.unwrap();
        last = rrx.await.unwrap();
    }
    let t = start.elapsed();
    assert_eq!(last, ASKS * (ASKS - 1) / 2);
    t
}

#[actor]
#[derive(Default)]
struct Acc {
    sum: u64,
}

#[actor]
impl Acc {
    #[handler]
    fn add(&mut self, n: u64) -> u64 {
        self.sum = self.sum.wrapping_add(n);
        self.sum
    }
}

async fn bactor_ask() -> Duration {
    let system = ActorSystem::new();
    let acc = system.spawn(Acc::default).await.unwrap();
    let start = Instant::now();
    let mut last = 0;
    for i in 0..ASKS {
        last = acc.add(i).await.unwrap();
    }
    let t = start.elapsed();
    assert_eq!(last, ASKS * (ASKS - 1) / 2);
    system.shutdown().await;
    t
}

fn runtime(flavour: &str) -> tokio::runtime::Runtime {
    match flavour {
        "current_thread" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    }
}

fn main() {
    let filter: Option<String> = std::env::args().nth(1);
    // `profile-tell` / `profile-ask`: only bactor, current_thread, for a profiler.
    if let Some(which) = filter.as_deref().and_then(|f| f.strip_prefix("profile-")) {
        let rt = runtime("current_thread");
        for _ in 0..10 {
            let d = match which {
                "tell" => rt.block_on(bactor_tell()),
                "base-tell" => rt.block_on(baseline_tell()),
                _ => rt.block_on(bactor_ask()),
            };
            println!("{d:?}");
        }
        return;
    }
    println!(
        "| runtime | scenario | baseline: tokio `send`/`recv` | tokio `try_send`/`recv_many` | bactor | bactor / baseline | bactor / tuned |"
    );
    println!("|---|---|---|---|---|---|---|");
    for flavour in ["current_thread", "multi_thread (2 workers)"] {
        let rt = runtime(flavour);
        for scenario in ["tell", "ask"] {
            if filter.as_deref().is_some_and(|f| f != scenario) {
                continue;
            }
            let (mut base, mut tuned, mut ours) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..TRIALS {
                // Interleave so drift in machine load hits both sides alike.
                match scenario {
                    "tell" => {
                        base.push(rt.block_on(baseline_tell()));
                        tuned.push(rt.block_on(tuned_tell()));
                        ours.push(rt.block_on(bactor_tell()));
                    }
                    _ => {
                        base.push(rt.block_on(baseline_ask()));
                        ours.push(rt.block_on(bactor_ask()));
                    }
                }
            }
            let n = if scenario == "tell" { TELLS } else { ASKS } as f64;
            let (b, o) = (median(base), median(ours));
            let t = (!tuned.is_empty()).then(|| median(tuned));
            let rate = |d: Duration| n / d.as_secs_f64();
            let cell = |d: Duration| {
                if scenario == "tell" {
                    format!("{:.2} M msg/s", rate(d) / 1e6)
                } else {
                    format!(
                        "{:.0} ns/ask ({:.2} M/s)",
                        d.as_nanos() as f64 / n,
                        rate(d) / 1e6
                    )
                }
            };
            println!(
                "| {flavour} | {scenario} ({} msgs) | {} | {} | {} | {:.2}x | {} |",
                n as u64,
                cell(b),
                t.map_or("n/a".to_owned(), cell),
                cell(o),
                rate(o) / rate(b),
                t.map_or("n/a".to_owned(), |t| format!("{:.2}x", rate(o) / rate(t)))
            );
        }
    }
}
