//! Metrics through the [`metrics`](https://docs.rs/metrics) crate (feature `metrics`).
//!
//! With the feature on, every [`ActorSystem`](crate::ActorSystem) records the metrics
//! below into the installed recorder: install it with [`install`] (any
//! [`metrics::Recorder`]) or, for Prometheus, the `prometheus` feature's [`prometheus`]
//! (whose text the dashboard serves at `/metrics`). Install it before building the
//! system: handles are registered as actors spawn.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `bactor_messages_handled_total` | counter | `actor` | messages taken by a handler |
//! | `bactor_handler_seconds` | histogram | `actor` | time in a handler |
//! | `bactor_ask_seconds` | histogram | `actor` | an ask, from send to reply, as its caller sees it (on the caller's node, for an actor on another) |
//! | `bactor_actor_failures_total` | counter | `actor` | failures (panics, errors of `fail_on_error` handlers, failed hooks) |
//! | `bactor_actor_restarts_total` | counter | `actor` | restarts |
//! | `bactor_actors` | gauge | `actor` | live actors |
//! | `bactor_mailbox_depth` | gauge | `actor` | messages waiting, summed over the actors of the type |
//! | `bactor_mailbox_depth_max` | gauge | `actor` | the fullest mailbox of the type |
//! | `bactor_dead_letters_total` | counter | `message` | messages that could not be delivered |
//! | `bactor_persist_flushes_total` | counter | `store` | group-commit flushes (SQLite, Postgres) |
//! | `bactor_persist_flush_errors_total` | counter | `store` | flushes that failed as a whole |
//! | `bactor_persist_batch_events` | histogram | `store` | events per flush |
//! | `bactor_persist_commit_seconds` | histogram | `store` | time of one flush, statement to commit |
//! | `bactor_remote_sent_bytes_total` | counter | `peer` | bytes of frames sent to a node |
//! | `bactor_remote_sent_messages_total` | counter | `peer` | envelopes sent to a node |
//! | `bactor_remote_received_bytes_total` | counter | `peer` | bytes of frames from a node |
//! | `bactor_remote_received_messages_total` | counter | `peer` | envelopes from a node |
//! | `bactor_remote_reconnects_total` | counter | `peer` | dials after a lost stream or a failed dial |
//! | `bactor_remote_node_down_total` | counter | `peer` | times a node was reported down |
//!
//! `actor` is the actor's type (`std::any::type_name`), `message` the message's name
//! (`Type::handler` for generated messages), `store` `sqlite` or `postgres`, `peer` the
//! node's address. The gauges are sampled every second (see
//! [`ActorSystemBuilder::metrics_interval`](crate::ActorSystemBuilder::metrics_interval));
//! the rest is recorded as it happens.
//!
//! # Cost
//!
//! Handlers and asks are timed only once a recorder is installed through [`install`] or
//! [`prometheus`] (or after [`enable_timings`], for a recorder installed with
//! `metrics::set_global_recorder` directly): `metrics` cannot tell bactor whether one is,
//! and two clock reads per message would more than double the cost of a tell. Without
//! a recorder a message costs what `metrics` costs for a no-op handle (a branch).
//! [`ActorSystemBuilder::metrics(false)`](crate::ActorSystemBuilder::metrics) turns all
//! of it off for one system; without the feature none of it is compiled.
//! `benches/RESULTS.md` has the measured cost on the tell and ask paths, with and
//! without a recorder.
//!
//! # Example
//!
//! ```
//! # #[cfg(feature = "prometheus")] mod demo {
//! use bactor::prelude::*;
//!
//! #[actor]
//! #[derive(Default)]
//! struct Counter {
//!     count: u64,
//! }
//!
//! #[actor]
//! impl Counter {
//!     #[handler]
//!     fn add(&mut self, by: u64) -> u64 {
//!         self.count += by;
//!         self.count
//!     }
//! }
//!
//! pub async fn run() -> Result<(), Box<dyn std::error::Error>> {
//!     let prometheus = bactor::metrics::prometheus()?;
//!     let system = ActorSystem::new();
//!     let counter = system.spawn(Counter::default).await?;
//!     counter.add(1).await?;
//!     let text = prometheus.render();
//!     assert!(text.contains("bactor_messages_handled_total"));
//!     system.shutdown().await;
//!     Ok(())
//! }
//! # }
//! # #[tokio::main] async fn main() {
//! # #[cfg(feature = "prometheus")] demo::run().await.unwrap();
//! # }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::metrics::{Counter, Histogram, Label, counter, gauge, histogram};

/// Whether handlers and asks are timed: set once a recorder is installed.
static TIMINGS: AtomicBool = AtomicBool::new(false);

/// Installs `recorder` as the global `metrics` recorder and turns on the timing of
/// handlers and asks ([`enable_timings`]).
///
/// Fails, handing the recorder back, if a global recorder is installed already.
///
/// # Example
///
/// ```
/// use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
///
/// /// A recorder that drops everything (a real one exports or aggregates).
/// struct Nothing;
///
/// impl Recorder for Nothing {
///     fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
///     fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
///     fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
///     fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter { Counter::noop() }
///     fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge { Gauge::noop() }
///     fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram { Histogram::noop() }
/// }
///
/// bactor::metrics::install(Nothing).expect("the first recorder");
/// assert!(bactor::metrics::install(Nothing).is_err());
/// ```
pub fn install<R>(recorder: R) -> Result<(), ::metrics::SetRecorderError<R>>
where
    R: ::metrics::Recorder + Sync + 'static,
{
    ::metrics::set_global_recorder(recorder)?;
    enable_timings();
    Ok(())
}

/// Turns on the timing of handlers (`bactor_handler_seconds`) and asks
/// (`bactor_ask_seconds`) for the actors spawned from now on. [`install`] and
/// [`prometheus`] call it; call it after installing a recorder some other way.
///
/// ```
/// # struct MyRecorder;
/// # impl metrics::Recorder for MyRecorder {
/// #     fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
/// #     fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
/// #     fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
/// #     fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter { metrics::Counter::noop() }
/// #     fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge { metrics::Gauge::noop() }
/// #     fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram { metrics::Histogram::noop() }
/// # }
/// metrics::set_global_recorder(MyRecorder).unwrap();
/// bactor::metrics::enable_timings(); // bactor cannot see that a recorder is installed
/// ```
pub fn enable_timings() {
    TIMINGS.store(true, Ordering::Relaxed);
}
/// The handles of one actor type, registered once per system and shared by its actors.
pub(crate) struct TypeMetrics {
    pub(crate) handled: Counter,
    pub(crate) handler_time: Histogram,
    pub(crate) ask_time: Histogram,
    pub(crate) failures: Counter,
    pub(crate) restarts: Counter,
    /// Handlers and asks are timed (a recorder was installed when it was registered).
    pub(crate) timed: bool,
}

impl TypeMetrics {
    fn new(actor: &'static str) -> Self {
        let labels = || [Label::from_static_parts("actor", actor)];
        TypeMetrics {
            timed: TIMINGS.load(Ordering::Relaxed),
            handled: counter!("bactor_messages_handled_total", labels().iter()),
            handler_time: histogram!("bactor_handler_seconds", labels().iter()),
            ask_time: histogram!("bactor_ask_seconds", labels().iter()),
            failures: counter!("bactor_actor_failures_total", labels().iter()),
            restarts: counter!("bactor_actor_restarts_total", labels().iter()),
        }
    }

    /// A clock reading to time a handler or an ask with, if they are timed.
    #[inline]
    pub(crate) fn start(&self) -> Option<Instant> {
        self.timed.then(Instant::now)
    }
}

/// A system's metrics: the handles of each actor type, and the gauge sampler's state.
pub(crate) struct SystemMetrics {
    types: Mutex<HashMap<&'static str, Arc<TypeMetrics>>>,
    interval: Duration,
    sampler: std::sync::Once,
}

impl std::fmt::Debug for SystemMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemMetrics")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl SystemMetrics {
    pub(crate) fn new(interval: Duration) -> Self {
        SystemMetrics {
            types: Mutex::new(HashMap::new()),
            interval,
            sampler: std::sync::Once::new(),
        }
    }

    /// The handles of `actor`'s type, registered on first use (and again if timings
    /// were turned on since).
    pub(crate) fn of(&self, actor: &'static str) -> Arc<TypeMetrics> {
        let mut types = self.types.lock().unwrap_or_else(|e| e.into_inner());
        let timed = TIMINGS.load(Ordering::Relaxed);
        let entry = types
            .entry(actor)
            .or_insert_with(|| Arc::new(TypeMetrics::new(actor)));
        if entry.timed != timed {
            *entry = Arc::new(TypeMetrics::new(actor));
        }
        Arc::clone(entry)
    }

    /// Starts the gauge sampler once (on the runtime of the first spawn): every
    /// `interval`, `sample` gives the live actors' types and mailbox depths, until it
    /// returns `None` (the system is gone or shutting down).
    pub(crate) fn start_sampler<F>(&self, sample: F)
    where
        F: Fn() -> Option<Vec<(&'static str, u64)>> + Send + 'static,
    {
        let interval = self.interval;
        self.sampler.call_once(|| {
            if tokio::runtime::Handle::try_current().is_err() {
                return;
            }
            tokio::spawn(async move {
                let mut seen: HashMap<&'static str, bool> = HashMap::new();
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    let Some(actors) = sample() else {
                        // The system is gone or shutting down: no actor is left.
                        record_gauges(&mut seen, &[]);
                        return;
                    };
                    record_gauges(&mut seen, &actors);
                }
            });
        });
    }
}

/// Sets the gauges of every type in `actors`, and zeroes those of types seen before
/// that have no live actor now.
fn record_gauges(seen: &mut HashMap<&'static str, bool>, actors: &[(&'static str, u64)]) {
    let mut by_type: HashMap<&'static str, (u64, u64, u64)> = HashMap::new();
    for &(actor, queued) in actors {
        let (count, sum, max) = by_type.entry(actor).or_default();
        *count += 1;
        *sum += queued;
        *max = (*max).max(queued);
    }
    for live in seen.values_mut() {
        *live = false;
    }
    for (&actor, &(count, sum, max)) in &by_type {
        seen.insert(actor, true);
        let labels = [Label::from_static_parts("actor", actor)];
        gauge!("bactor_actors", labels.iter()).set(count as f64);
        gauge!("bactor_mailbox_depth", labels.iter()).set(sum as f64);
        gauge!("bactor_mailbox_depth_max", labels.iter()).set(max as f64);
    }
    seen.retain(|&actor, live| {
        if !*live {
            let labels = [Label::from_static_parts("actor", actor)];
            gauge!("bactor_actors", labels.iter()).set(0.0);
            gauge!("bactor_mailbox_depth", labels.iter()).set(0.0);
            gauge!("bactor_mailbox_depth_max", labels.iter()).set(0.0);
        }
        *live
    });
}

/// One more dead letter.
pub(crate) fn dead_letter(message: &'static str) {
    counter!("bactor_dead_letters_total", "message" => message).increment(1);
}

/// Installs a Prometheus recorder as the global recorder (feature `prometheus`) and
/// returns its handle: [`render`](metrics_exporter_prometheus::PrometheusHandle::render)
/// gives the text a Prometheus server scrapes (the dashboard serves it at `/metrics`).
/// Histograms are exported as summaries (quantiles 0, 0.5, 0.9, 0.95, 0.99, 0.999, 1).
///
/// Fails if a global recorder is installed already.
///
/// # Example
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let prometheus = bactor::metrics::prometheus()?;
/// let text = prometheus.render(); // serve this at /metrics
/// # let _ = text;
/// # Ok(()) }
/// ```
#[cfg(feature = "prometheus")]
pub fn prometheus()
-> Result<metrics_exporter_prometheus::PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    enable_timings();
    // Drains the histograms' pending samples while nobody scrapes, as the exporter's own
    // `install` does: without it they pile up until the next render. A thread, not a
    // task: the recorder outlives any runtime.
    let upkeep = handle.clone();
    let _ = std::thread::Builder::new()
        .name("bactor-prometheus-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
    Ok(handle)
}
