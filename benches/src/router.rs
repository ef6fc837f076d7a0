//! Routing overhead: 1,000,000 tells to one actor directly, against the same tells through
//! a round-robin pool router of 1 and of 4 routees (a hop through the router's mailbox),
//! and through a consistent-hash pool of 4, in the same run (interleaved trials, medians).
//! The clock stops when every routee has handled every message (an ask behind the tells).
//!
//! `cargo run --release --bin router` (from `benches/`).

use std::time::{Duration, Instant};

use bactor::prelude::*;
use bactor::router::{ConsistentHash, RoundRobin, Routing};

const TELLS: u64 = 1_000_000;
const TRIALS: usize = 5;

#[actor(mailbox = 1024)]
#[derive(Default)]
struct Sink {
    count: u64,
}

#[actor]
impl Sink {
    #[handler]
    fn add(&mut self, n: u64) {
        self.count += 1;
        let _ = n;
    }

    #[handler(route_key = key)]
    fn keyed(&mut self, key: u64) {
        self.count += 1;
        let _ = key;
    }

    #[handler]
    fn count(&self) -> u64 {
        self.count
    }
}

async fn direct() -> Duration {
    let system = ActorSystem::new();
    let sink = system.spawn(Sink::default).await.unwrap();
    let start = Instant::now();
    for n in 0..TELLS {
        sink.add(n).tell().await.unwrap();
    }
    assert_eq!(sink.count().await.unwrap(), TELLS);
    let d = start.elapsed();
    system.shutdown().await;
    d
}

async fn routed(n: usize, routing: Routing) -> Duration {
    let system = ActorSystem::new();
    let pool = system.spawn_pool(n, Sink::default, routing).await.unwrap();
    let routees: Vec<SinkRef> = pool
        .routees()
        .into_iter()
        .map(|pid| system.resolve::<Sink>(pid).unwrap())
        .collect();
    let start = Instant::now();
    for i in 0..TELLS {
        if routing == ConsistentHash {
            pool.keyed(i).tell().await.unwrap();
        } else {
            pool.add(i).tell().await.unwrap();
        }
    }
    // Every routee has handled what it got once an ask sent through the router's path
    // (it is behind the tells in the router's mailbox) and one sent to it directly agree.
    let mut total = 0;
    for r in &routees {
        total += r.count().await.unwrap();
    }
    while total < TELLS {
        tokio::task::yield_now().await;
        total = 0;
        for r in &routees {
            total += r.count().await.unwrap();
        }
    }
    let d = start.elapsed();
    system.shutdown().await;
    d
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    for flavour in ["current_thread", "multi_thread (2 workers)"] {
        let rt = if flavour == "current_thread" {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
        };
        let (mut d, mut r1, mut r4, mut h4) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..TRIALS {
            d.push(rt.block_on(direct()));
            r1.push(rt.block_on(routed(1, RoundRobin)));
            r4.push(rt.block_on(routed(4, RoundRobin)));
            h4.push(rt.block_on(routed(4, ConsistentHash)));
        }
        let d = median(d);
        let rate = |x: Duration| TELLS as f64 / x.as_secs_f64() / 1e6;
        let ns = |x: Duration| x.as_nanos() as f64 / TELLS as f64;
        println!(
            "| {flavour} | direct | {:.2} M/s | {:.0} ns | |",
            rate(d),
            ns(d)
        );
        for (what, v) in [
            ("round-robin pool of 1", r1),
            ("round-robin pool of 4", r4),
            ("consistent-hash pool of 4", h4),
        ] {
            let m = median(v);
            println!(
                "| {flavour} | {what} | {:.2} M/s | {:.0} ns | +{:.0} ns |",
                rate(m),
                ns(m),
                ns(m) - ns(d)
            );
        }
    }
}
