//! The core semantics again, on the multi-thread runtime and many times over, so that races
//! between the sender, the actor and the supervisor have a chance to show: ordering per
//! sender, `stop()` against queued and in-flight messages, death watch against a concurrent
//! stop, restarts against queued asks, and ask timeouts.
//!
//! Each scenario runs `BACTOR_STRESS_ITERATIONS` times (default 200); for a long soak:
//! `BACTOR_STRESS_ITERATIONS=5000 cargo test -p bactor --test multi_thread --release`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bactor::prelude::*;
use tokio::sync::{Barrier, mpsc, watch};

mod common;
use common::{no_hang, quiet_panics};

fn iterations() -> usize {
    std::env::var("BACTOR_STRESS_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

/// Checks that each sender's sequence numbers arrive in order, and counts what it handled.
#[actor(mailbox = 8)]
#[derive(Default)]
struct Recorder {
    last: std::collections::HashMap<u32, u32>,
    violations: u32,
    handled: u64,
}

#[actor]
impl Recorder {
    #[handler]
    fn record(&mut self, sender: u32, seq: u32) -> u64 {
        let expected = self.last.get(&sender).map_or(0, |p| p + 1);
        if seq != expected {
            self.violations += 1;
        }
        self.last.insert(sender, seq);
        self.handled += 1;
        self.handled
    }

    #[handler]
    fn report(&self) -> (u32, u64) {
        (self.violations, self.handled)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_sender_order_holds_under_contention() {
    for _ in 0..iterations() {
        let system = ActorSystem::new();
        let rec = no_hang(system.spawn(Recorder::default)).await.unwrap();
        let start = Arc::new(Barrier::new(4));
        let mut senders = Vec::new();
        for s in 0..4u32 {
            let (rec, start) = (rec.clone(), start.clone());
            senders.push(tokio::spawn(async move {
                no_hang(start.wait()).await;
                for seq in 0..200u32 {
                    // Tells, tries and asks all share the sender's order.
                    match seq % 3 {
                        0 => no_hang(rec.record(s, seq).tell()).await.unwrap(),
                        1 => {
                            no_hang(rec.record(s, seq)).await.unwrap();
                        }
                        _ => {
                            let mut msg = rec.record(s, seq).into_message();
                            loop {
                                match rec.try_tell(msg) {
                                    Ok(()) => break,
                                    Err(bactor::TellError::Full(back)) => {
                                        msg = back;
                                        tokio::task::yield_now().await;
                                    }
                                    Err(e) => panic!("{e}"),
                                }
                            }
                        }
                    }
                }
            }));
        }
        for s in senders {
            no_hang(s).await.unwrap();
        }
        assert_eq!(no_hang(rec.report()).await.unwrap(), (0, 800));
        no_hang(system.shutdown()).await;
    }
}

/// Handles `slow` messages by waiting for a gate; counts what it handled.
#[actor(mailbox = 64)]
struct Slow {
    gate: watch::Receiver<bool>,
    handled: Arc<AtomicU64>,
}

#[actor]
impl Slow {
    #[handler]
    async fn slow(&mut self, n: u64) -> u64 {
        let _ = self.gate.wait_for(|open| *open).await;
        self.handled.fetch_add(1, Ordering::SeqCst);
        n
    }

    #[handler]
    fn fast(&mut self, n: u64) -> u64 {
        self.handled.fetch_add(1, Ordering::SeqCst);
        n
    }
}

/// A `Slow` behind `gate`, and its count of handled messages.
async fn slow(system: &ActorSystem, gate: watch::Receiver<bool>) -> (SlowRef, Arc<AtomicU64>) {
    let handled = Arc::new(AtomicU64::new(0));
    let h = handled.clone();
    let a = no_hang(system.spawn(move || Slow {
        gate: gate.clone(),
        handled: h.clone(),
    }))
    .await
    .unwrap();
    (a, handled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_racing_senders_answers_every_ask_and_handles_nothing_after_it() {
    for i in 0..iterations() {
        let system = ActorSystem::new();
        let (_gate, gate_rx) = watch::channel(true);
        let (a, handled) = slow(&system, gate_rx).await;
        let mut askers = Vec::new();
        for s in 0..3u64 {
            let a = a.clone();
            askers.push(tokio::spawn(async move {
                let mut ok = 0u64;
                for n in 0..50 {
                    match no_hang(a.fast(s * 100 + n)).await {
                        Ok(v) => {
                            assert_eq!(v, s * 100 + n);
                            ok += 1;
                        }
                        // Queued when the stop came, or sent after it.
                        Err(AskError::NoReply | AskError::Dead) => {}
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
                ok
            }));
        }
        // Stop somewhere in the middle of the traffic.
        for _ in 0..(i % 7) {
            tokio::task::yield_now().await;
        }
        a.stop();
        no_hang(a.stopped()).await;
        let mut answered_ok = 0;
        for t in askers {
            answered_ok += no_hang(t).await.unwrap();
        }
        // Every Ok was a handled message and every handled message answered Ok: nothing
        // was handled after the stop and then lost, nothing answered without running.
        assert_eq!(handled.load(Ordering::SeqCst), answered_ok);
        assert_eq!(no_hang(a.fast(0)).await, Err(AskError::Dead));
        no_hang(system.shutdown()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_timeouts_never_lose_the_message_or_the_actor() {
    for _ in 0..iterations() {
        let system = ActorSystem::new();
        let (gate, gate_rx) = watch::channel(false);
        let (a, handled) = slow(&system, gate_rx).await;
        let mut askers = Vec::new();
        for n in 0..8u64 {
            let a = a.clone();
            askers.push(tokio::spawn(async move {
                no_hang(a.slow(n).timeout(Duration::from_millis(1))).await
            }));
        }
        // Open the gate while some asks may still be waiting and others have given up.
        tokio::time::sleep(Duration::from_millis(1)).await;
        gate.send(true).unwrap();
        for (n, t) in askers.into_iter().enumerate() {
            match no_hang(t).await.unwrap() {
                Ok(v) => assert_eq!(v, n as u64),
                Err(AskError::Timeout) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        // A timed-out ask's message is still handled; the actor goes on.
        assert_eq!(no_hang(a.fast(99)).await, Ok(99));
        assert_eq!(handled.load(Ordering::SeqCst), 9);
        no_hang(system.shutdown()).await;
    }
}

/// Reports every termination it hears of.
#[actor]
struct Watcher {
    seen: mpsc::UnboundedSender<(Pid, String)>,
}

#[actor]
impl Watcher {
    #[handler]
    fn watch(&mut self, ctx: &mut Context<Self>, target: RecorderRef) {
        ctx.watch(&target);
    }

    fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {
        let _ = self.seen.send((pid, reason.to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_racing_a_stop_always_hears_exactly_once() {
    let system = ActorSystem::new();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let watcher = no_hang(system.spawn(move || Watcher { seen: tx.clone() }))
        .await
        .unwrap();
    for _ in 0..iterations() * 10 {
        let target = no_hang(system.spawn(Recorder::default)).await.unwrap();
        let start = Arc::new(Barrier::new(2));
        let stopper = {
            let (target, start) = (target.clone(), start.clone());
            tokio::spawn(async move {
                no_hang(start.wait()).await;
                target.stop();
            })
        };
        no_hang(start.wait()).await;
        no_hang(watcher.watch(target.clone())).await.unwrap();
        no_hang(stopper).await.unwrap();
        no_hang(target.stopped()).await;
        // Watched before the stop: "stopped"; after it: "not found". Never neither.
        let (pid, reason) = no_hang(seen.recv()).await.unwrap();
        assert_eq!(pid, target.pid());
        assert!(reason == "stopped" || reason == "not found", "{reason}");
    }
    // ...and never twice: nothing else is pending once the watcher has handled a message.
    let probe = no_hang(system.spawn(Recorder::default)).await.unwrap();
    no_hang(watcher.watch(probe.clone())).await.unwrap();
    assert!(
        seen.try_recv().is_err(),
        "a second notice for an earlier target"
    );
    no_hang(system.shutdown()).await;
}

/// Fails on every multiple of 5.
#[actor]
#[derive(Default)]
struct Flaky {
    handled: u64,
}

#[actor]
impl Flaky {
    #[handler]
    async fn work(&mut self, n: u64) -> u64 {
        if n.is_multiple_of(2) {
            tokio::task::yield_now().await;
        }
        assert!(!n.is_multiple_of(5), "flaky on {n}");
        self.handled += 1;
        n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_keep_every_queued_ask() {
    let _quiet = quiet_panics("flaky on");
    for _ in 0..iterations() {
        let system = ActorSystem::builder()
            .guardian_strategy(SupervisorStrategy::one_for_one().max_restarts(10_000))
            .build();
        let a = no_hang(system.spawn(Flaky::default)).await.unwrap();
        let mut askers = Vec::new();
        for s in 0..4u64 {
            let a = a.clone();
            askers.push(tokio::spawn(async move {
                let mut failed = 0;
                for k in 0..25u64 {
                    let n = s * 1000 + k + 1;
                    match no_hang(a.work(n)).await {
                        Ok(v) => assert_eq!(v, n),
                        // Only the message that failed is lost.
                        Err(AskError::Failed) => {
                            assert!(n.is_multiple_of(5), "{n} was lost to a restart");
                            failed += 1;
                        }
                        Err(other) => panic!("{n}: unexpected {other:?}"),
                    }
                }
                failed
            }));
        }
        let mut failed = 0;
        for t in askers {
            failed += no_hang(t).await.unwrap();
        }
        assert_eq!(failed, 4 * 5);
        assert!(a.is_alive());
        no_hang(system.shutdown()).await;
    }
}
