//! Metrics (feature `metrics`): a recorder of its own checks the counters, histograms
//! and gauges after known traffic.
//! `cargo test -p bactor --features metrics,persist,remote --test metrics`.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bactor::prelude::*;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

mod common;
use common::no_hang;

/// Every metric by `name{label=value,...}` (labels sorted).
#[derive(Default)]
struct TestRecorder {
    values: Mutex<HashMap<String, Arc<Value>>>,
}

#[derive(Default)]
struct Value {
    counter: AtomicU64,
    gauge: AtomicU64,
    samples: Mutex<Vec<f64>>,
}

impl metrics::CounterFn for Value {
    fn increment(&self, value: u64) {
        self.counter.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.counter.fetch_max(value, Ordering::Relaxed);
    }
}

impl metrics::GaugeFn for Value {
    fn increment(&self, value: f64) {
        self.set(f64::from_bits(self.gauge.load(Ordering::Relaxed)) + value);
    }
    fn decrement(&self, value: f64) {
        self.set(f64::from_bits(self.gauge.load(Ordering::Relaxed)) - value);
    }
    fn set(&self, value: f64) {
        self.gauge.store(value.to_bits(), Ordering::Relaxed);
    }
}

impl metrics::HistogramFn for Value {
    fn record(&self, value: f64) {
        self.samples.lock().unwrap().push(value);
    }
}

impl TestRecorder {
    fn value(&self, key: &Key) -> Arc<Value> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        Arc::clone(self.values.lock().unwrap().entry(name).or_default())
    }

    fn find(&self, name: &str) -> Option<Arc<Value>> {
        self.values.lock().unwrap().get(name).cloned()
    }

    fn counter(&self, name: &str) -> u64 {
        self.find(name)
            .map_or(0, |v| v.counter.load(Ordering::Relaxed))
    }

    fn gauge(&self, name: &str) -> Option<f64> {
        self.find(name)
            .map(|v| f64::from_bits(v.gauge.load(Ordering::Relaxed)))
    }

    fn samples(&self, name: &str) -> Vec<f64> {
        self.find(name)
            .map(|v| v.samples.lock().unwrap().clone())
            .unwrap_or_default()
    }

    /// The names of the metrics that mention `part`.
    fn names_with(&self, part: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .values
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.contains(part))
            .cloned()
            .collect();
        names.sort();
        names
    }
}

/// The process's global recorder (one per test binary), shared by the tests: each test
/// uses actor types, stores or peers of its own, so their labels do not mix.
struct Global;

static RECORDER: LazyLock<TestRecorder> = LazyLock::new(|| {
    bactor::metrics::install(Global).unwrap_or_else(|_| panic!("another recorder"));
    TestRecorder::default()
});

impl Recorder for Global {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(RECORDER.value(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(RECORDER.value(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(RECORDER.value(key))
    }
}

fn recorder() -> &'static TestRecorder {
    &RECORDER
}

#[actor]
#[derive(Default)]
struct Flaky;

#[actor]
impl Flaky {
    #[handler]
    async fn work(&mut self, fail: bool) -> u32 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if fail {
            panic!("flaky worker fails on purpose");
        }
        1
    }
}

#[tokio::test]
async fn counters_after_known_traffic() {
    let metrics = recorder();
    let _quiet = common::quiet_panics("flaky worker fails on purpose");
    let system = ActorSystem::new();
    let flaky = system.spawn(Flaky::default).await.unwrap();
    let (n, k) = (20u64, 3u64);
    let mut failed = 0;
    for i in 0..n {
        // Messages 5, 10 and 15 fail; the last one succeeds, so every restart is done.
        let fail = i % 5 == 0 && i > 0;
        if no_hang(flaky.work(fail)).await.is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, k);
    let actor = format!("actor={}", std::any::type_name::<Flaky>());
    let name = |metric: &str| format!("{metric}{{{actor}}}");
    assert_eq!(metrics.counter(&name("bactor_messages_handled_total")), n);
    assert_eq!(metrics.counter(&name("bactor_actor_failures_total")), k);
    assert_eq!(metrics.counter(&name("bactor_actor_restarts_total")), k);
    let handler = metrics.samples(&name("bactor_handler_seconds"));
    assert_eq!(handler.len() as u64, n);
    assert!(
        handler.iter().all(|&s| s >= 0.001),
        "each handler sleeps 1 ms: {handler:?}"
    );
    let asks = metrics.samples(&name("bactor_ask_seconds"));
    assert_eq!(asks.len() as u64, n, "failed asks are timed too");
    assert!(asks.iter().zip(&handler).all(|(ask, h)| ask >= h));
    no_hang(system.shutdown()).await;
}

#[actor]
#[derive(Default)]
struct Gone;

#[actor]
impl Gone {
    #[handler]
    fn ping(&self) {}
}

#[tokio::test]
async fn dead_letters_are_counted_by_message() {
    let metrics = recorder();
    let system = ActorSystem::new();
    let gone = system.spawn(Gone::default).await.unwrap();
    gone.stop();
    no_hang(gone.stopped()).await;
    for _ in 0..4 {
        assert!(gone.ping().tell().await.is_err());
    }
    let names = metrics.names_with("bactor_dead_letters_total");
    let name = names
        .iter()
        .find(|n| n.contains("Gone::ping"))
        .unwrap_or_else(|| panic!("no dead-letter counter for Gone::ping in {names:?}"));
    assert_eq!(metrics.counter(name), 4);
    no_hang(system.shutdown()).await;
}

#[actor]
#[derive(Default)]
struct Blocked;

#[actor]
impl Blocked {
    #[handler]
    async fn hold(&mut self, gate: Arc<tokio::sync::Semaphore>) {
        let _ = gate.acquire().await;
    }

    #[handler]
    fn noop(&self) {}
}

/// Waits until `gauge` reads `want` (the sampler runs every 10 ms here); fails with the
/// last reading after 10 s.
async fn gauge_reaches(metrics: &TestRecorder, gauge: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let read = metrics.gauge(gauge);
        if read == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{gauge} reads {read:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn mailbox_depth_and_live_actors_are_sampled() {
    let metrics = recorder();
    let system = ActorSystem::builder()
        .metrics_interval(Duration::from_millis(10))
        .build();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let a = system.spawn(Blocked::default).await.unwrap();
    let b = system.spawn(Blocked::default).await.unwrap();
    a.hold(Arc::clone(&gate)).tell().await.unwrap();
    for _ in 0..5 {
        a.noop().tell().await.unwrap();
    }
    b.hold(Arc::clone(&gate)).tell().await.unwrap();
    b.noop().tell().await.unwrap();
    let actor = format!("{{actor={}}}", std::any::type_name::<Blocked>());
    gauge_reaches(metrics, &format!("bactor_actors{actor}"), 2.0).await;
    gauge_reaches(metrics, &format!("bactor_mailbox_depth{actor}"), 6.0).await;
    gauge_reaches(metrics, &format!("bactor_mailbox_depth_max{actor}"), 5.0).await;
    gate.add_permits(2);
    gauge_reaches(metrics, &format!("bactor_mailbox_depth{actor}"), 0.0).await;
    a.stop();
    b.stop();
    gauge_reaches(metrics, &format!("bactor_actors{actor}"), 0.0).await;
    no_hang(system.shutdown()).await;
}

#[actor]
#[derive(Default)]
struct Unmetered;

#[actor]
impl Unmetered {
    #[handler]
    fn ping(&self) {}
}

#[tokio::test]
async fn a_system_with_metrics_off_records_nothing() {
    let metrics = recorder();
    let system = ActorSystem::builder().metrics(false).build();
    let quiet = system.spawn(Unmetered::default).await.unwrap();
    for _ in 0..10 {
        no_hang(quiet.ping()).await.unwrap();
    }
    quiet.stop();
    no_hang(quiet.stopped()).await;
    let _ = quiet.ping().tell().await;
    assert_eq!(
        metrics.names_with("Unmetered"),
        Vec::<String>::new(),
        "no metric of a system whose metrics are off"
    );
    no_hang(system.shutdown()).await;
}

#[cfg(feature = "persist")]
mod persist {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[actor]
    #[persistent]
    #[derive(Default, Serialize, Deserialize)]
    struct Ledger {
        total: u64,
    }

    #[actor]
    impl Ledger {
        #[handler]
        async fn add(&mut self, ctx: &mut Context<Self>, n: u64) -> Result<u64, PersistError> {
            self.persist_all(ctx, (0..n).map(|_| LedgerEvent::Added { by: 1 }).collect())
                .await?;
            Ok(self.total)
        }

        #[event]
        fn added(&mut self, by: u64) {
            self.total += by;
        }
    }

    #[tokio::test]
    async fn flushes_batches_and_commit_times_of_the_sqlite_store() {
        let metrics = recorder();
        let store = no_hang(bactor::persist::SqliteStore::in_memory())
            .await
            .unwrap();
        let before = metrics.counter("bactor_persist_flushes_total{store=sqlite}");
        let events_before = metrics
            .samples("bactor_persist_batch_events{store=sqlite}")
            .len();
        let system = ActorSystem::builder().persistence(store).build();
        let ledger = system
            .spawn_persistent("ledger-metrics", Ledger::default)
            .await
            .unwrap();
        for _ in 0..3 {
            no_hang(ledger.add(4)).await.unwrap();
        }
        assert_eq!(no_hang(ledger.add(0)).await.unwrap(), 12);
        // Other tests of this binary do not use SQLite: only these three flushes of four
        // events each (an empty persist writes nothing).
        assert_eq!(
            metrics.counter("bactor_persist_flushes_total{store=sqlite}") - before,
            3
        );
        let events = metrics.samples("bactor_persist_batch_events{store=sqlite}");
        assert_eq!(&events[events_before..], &[4.0, 4.0, 4.0]);
        let commits = metrics.samples("bactor_persist_commit_seconds{store=sqlite}");
        assert!(commits.len() >= 3 && commits.iter().all(|&s| s > 0.0));
        assert_eq!(
            metrics.counter("bactor_persist_flush_errors_total{store=sqlite}"),
            0
        );
        no_hang(system.shutdown()).await;
    }
}

#[cfg(feature = "remote")]
mod remote {
    use super::*;
    use crate::common;
    use bactor::remote::Node;

    #[actor]
    #[derive(Default)]
    struct Sink {
        got: u64,
    }

    #[actor(remote)]
    impl Sink {
        #[handler]
        fn put(&mut self, bytes: Vec<u8>) {
            self.got += bytes.len() as u64;
        }

        #[handler]
        fn got(&self) -> u64 {
            self.got
        }
    }

    async fn node() -> Node {
        common::quick_node("metrics secret")
            .kind(Sink::default)
            .start()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn bytes_and_messages_per_peer_reconnects_and_node_down() {
        let metrics = recorder();
        let (a, b) = (node().await, node().await);
        let sink: SinkRef = no_hang(a.spawn_remote::<Sink>(b.address(), None))
            .await
            .unwrap();
        for _ in 0..100 {
            sink.put(vec![7; 100]).tell().await.unwrap();
        }
        assert_eq!(no_hang(sink.got()).await.unwrap(), 100 * 100);
        // The ask is timed on A, under the actor's type, as its caller saw it.
        let asks = metrics.samples(&format!(
            "bactor_ask_seconds{{actor={}}}",
            std::any::type_name::<Sink>()
        ));
        assert_eq!(asks.len(), 1, "{asks:?}");
        let to_b = format!("{{peer={}}}", b.address());
        let from_a = format!("{{peer={}}}", a.address());
        // The spawn, 100 tells and the ask, at least (the handshake is not counted).
        let sent = metrics.counter(&format!("bactor_remote_sent_messages_total{to_b}"));
        assert!(sent >= 102, "sent {sent}");
        let sent_bytes = metrics.counter(&format!("bactor_remote_sent_bytes_total{to_b}"));
        assert!(sent_bytes >= 100 * 100, "sent {sent_bytes} bytes");
        let received = metrics.counter(&format!("bactor_remote_received_messages_total{from_a}"));
        assert!(received >= 101, "received {received}");
        let received_bytes =
            metrics.counter(&format!("bactor_remote_received_bytes_total{from_a}"));
        assert!(
            received_bytes >= 100 * 100,
            "received {received_bytes} bytes"
        );
        // And the replies the other way.
        assert!(metrics.counter(&format!("bactor_remote_received_messages_total{to_b}")) >= 1);

        // B goes away: A dials again until it gives up and reports B down.
        let mut events = a.events().subscribe();
        b.shutdown().await;
        let _ = sink.put(vec![1]).tell().await;
        no_hang(async {
            loop {
                if let Some(bactor::SystemEvent::NodeDown { .. }) = events.recv().await {
                    break;
                }
            }
        })
        .await;
        assert_eq!(
            metrics.counter(&format!("bactor_remote_node_down_total{to_b}")),
            1
        );
        assert!(metrics.counter(&format!("bactor_remote_reconnects_total{to_b}")) >= 1);
        a.shutdown().await;
    }
}
