//! The cost of middleware on the tell path: 1,000,000 tells to one actor with no layer,
//! with one no-op receive layer, and with one no-op send layer, in the same run
//! (interleaved trials, medians). The clock stops when the actor has handled them all.
//!
//! `cargo run --release --bin middleware` (from `benches/`).

use std::time::{Duration, Instant};

use bactor::middleware::{Flow, Outgoing, ReceiveMiddleware, SendMiddleware};
use bactor::prelude::*;

mod shared;
use shared::{Sink, median};

const TELLS: u64 = 1_000_000;
const TRIALS: usize = 7;

struct NoopReceive;
impl ReceiveMiddleware for NoopReceive {}

struct NoopSend;
impl SendMiddleware for NoopSend {
    fn before_send(&self, _: &Outgoing<'_>) -> Flow {
        Flow::Continue
    }
}

async fn run(props: Props<Sink>) -> Duration {
    let system = ActorSystem::new();
    let sink = system.spawn_props(props).await.unwrap();
    let start = Instant::now();
    for n in 0..TELLS {
        sink.add(n).tell().await.unwrap();
    }
    assert_eq!(sink.sum().await.unwrap(), (0..TELLS).sum::<u64>());
    let d = start.elapsed();
    system.shutdown().await;
    d
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut none, mut recv, mut send) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..TRIALS {
        none.push(rt.block_on(run(Props::from_producer(Sink::default))));
        recv.push(rt.block_on(run(
            Props::from_producer(Sink::default).receive_middleware(NoopReceive),
        )));
        send.push(rt.block_on(run(
            Props::from_producer(Sink::default).send_middleware(NoopSend),
        )));
    }
    let ns = |d: Duration| d.as_nanos() as f64 / TELLS as f64;
    let base = ns(median(none));
    println!("| current_thread | layers | per tell | cost |");
    println!("|---|---|---|---|");
    println!("| | none | {base:.1} ns | |");
    for (what, v) in [
        ("one no-op receive layer", recv),
        ("one no-op send layer", send),
    ] {
        let m = ns(median(v));
        println!("| | {what} | {m:.1} ns | +{:.1} ns |", m - base);
    }
}
