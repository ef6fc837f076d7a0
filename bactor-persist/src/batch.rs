//! Group commit: appends from many writers, batched into one transaction per flush.
//!
//! A writer task takes whatever appends are pending as soon as the previous commit has
//! finished (no linger timer: measured slower on both databases) and inserts all their
//! events with one multi-row statement. Each row carries the sequence number its append
//! expected, and the statement inserts a row only where the journal's highest sequence
//! number (as of the statement's start) is that number; the primary key refuses any
//! sequence number taken already. So concurrent actors share one commit instead of paying
//! one each, a lone writer pays one round trip, and a conflicting append changes nothing.
//! Appends that did not go in (conflicts) are decided again one by one in a transaction,
//! which reports the exact conflict.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use crate::{BoxFuture, NewEvent, StoreError, now_millis};

/// The most events written in one transaction.
pub(crate) const MAX_ROWS: usize = 1000;

pub(crate) struct Append {
    pub(crate) persistence_id: String,
    pub(crate) expected: u64,
    pub(crate) events: Vec<NewEvent>,
    reply: oneshot::Sender<Result<u64, StoreError>>,
}

impl Append {
    /// The rows of this append: sequence numbers `expected + 1 ..`.
    pub(crate) fn rows(&self, now: i64) -> impl Iterator<Item = Row<'_>> {
        self.events.iter().enumerate().map(move |(i, e)| Row {
            persistence_id: &self.persistence_id,
            sequence_nr: self.expected + 1 + i as u64,
            manifest: &e.manifest,
            payload: &e.payload,
            written_at: now,
            tags: crate::query::encode_tags(&e.tags),
        })
    }
}

/// One event row to insert.
pub(crate) struct Row<'a> {
    pub(crate) persistence_id: &'a str,
    pub(crate) sequence_nr: u64,
    pub(crate) manifest: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) written_at: i64,
    /// Its tags as stored ([`encode_tags`](crate::query::encode_tags)).
    pub(crate) tags: Option<String>,
}

/// Why a batch write failed.
pub(crate) enum WriteError {
    /// A row already existed: a writer outside this store appended concurrently.
    Unique,
    /// The database answered and refused the statement (an invalid payload, say): one
    /// append of the batch may be to blame, not all of them.
    Rejected(StoreError),
    /// The write did not reach a verdict (the connection, the pool): every append fails.
    Store(StoreError),
}

/// What a SQL backend provides to the group-commit writer.
pub(crate) trait BatchBackend: Send + Sync + 'static {
    /// The `store` label of its metrics (`sqlite`, `postgres`).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    const STORE: &'static str;

    /// One statement: insert the rows of each append (`batch`, at most one per id), all
    /// of an append's rows or none, and return whether each went in, in order. An append
    /// whose `check` is set goes in only if its `expected` is 0 or the journal holds that
    /// sequence number (as of the statement's start): so it does not leave a gap. The
    /// primary key refuses the rest (a stale `expected`), failing the whole statement.
    fn insert_checked<'a>(
        &'a self,
        batch: &'a [Append],
        check: &'a [bool],
        now: i64,
    ) -> BoxFuture<'a, Result<Vec<bool>, WriteError>>;

    /// In one transaction: read the highest sequence numbers of `ids`, let `plan` decide,
    /// insert the rows it returns. `Err` (for example a unique violation from a writer
    /// outside this store) rolls everything back.
    fn write<'a>(
        &'a self,
        ids: Vec<&'a str>,
        batch: &'a [Append],
    ) -> BoxFuture<'a, Result<Vec<Result<u64, StoreError>>, WriteError>>;
}

/// Decides each append of a batch against the highest sequence numbers read in the same
/// transaction, and lists the rows to insert for the accepted ones.
pub(crate) fn plan<'a>(
    batch: &'a [Append],
    mut highest: HashMap<&'a str, u64>,
) -> (Vec<Result<u64, StoreError>>, Vec<Row<'a>>) {
    let now = now_millis();
    let mut results = Vec::with_capacity(batch.len());
    let mut rows = Vec::new();
    for a in batch {
        let current = highest.entry(a.persistence_id.as_str()).or_insert(0);
        if *current != a.expected {
            results.push(Err(StoreError::Conflict {
                persistence_id: a.persistence_id.clone(),
                expected: a.expected,
                actual: *current,
            }));
            continue;
        }
        rows.extend(a.rows(now));
        *current += a.events.len() as u64;
        results.push(Ok(*current));
    }
    (results, rows)
}

/// How much group commit has batched: see `SqliteStore::commit_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Flushes: one multi-row insert (plus, for conflicts, the transactions that decide
    /// them) each.
    pub flushes: u64,
    /// Appends written or refused by those flushes.
    pub appends: u64,
}

#[derive(Default)]
struct Counters {
    flushes: std::sync::atomic::AtomicU64,
    appends: std::sync::atomic::AtomicU64,
}

/// The handle to a running group-commit writer.
pub(crate) struct GroupCommit {
    tx: mpsc::UnboundedSender<Append>,
    counters: Arc<Counters>,
    /// Bumped after every flush that wrote something (`ReadJournal::commit_signal`).
    committed: watch::Sender<u64>,
}

impl GroupCommit {
    pub(crate) fn start<B: BatchBackend>(backend: Arc<B>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let committed = watch::Sender::new(0);
        tokio::spawn(writer(
            backend,
            rx,
            Arc::clone(&counters),
            committed.clone(),
        ));
        GroupCommit {
            tx,
            counters,
            committed,
        }
    }

    /// Changes after every flush that wrote events.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }

    pub(crate) fn stats(&self) -> CommitStats {
        use std::sync::atomic::Ordering::Relaxed;
        CommitStats {
            flushes: self.counters.flushes.load(Relaxed),
            appends: self.counters.appends.load(Relaxed),
        }
    }

    pub(crate) async fn append(
        &self,
        persistence_id: &str,
        expected: u64,
        events: Vec<NewEvent>,
    ) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(expected);
        }
        let (reply, rx) = oneshot::channel();
        let append = Append {
            persistence_id: persistence_id.to_owned(),
            expected,
            events,
            reply,
        };
        self.tx.send(append).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

async fn writer<B: BatchBackend>(
    backend: Arc<B>,
    mut rx: mpsc::UnboundedReceiver<Append>,
    counters: Arc<Counters>,
    committed: watch::Sender<u64>,
) {
    let mut batch: Vec<Append> = Vec::new();
    let mut known = Known::default();
    #[cfg(feature = "metrics")]
    let metrics = FlushMetrics::new(B::STORE);
    while let Some(first) = rx.recv().await {
        let mut rows = first.events.len();
        batch.push(first);
        while rows < MAX_ROWS {
            match rx.try_recv() {
                Ok(next) => {
                    rows += next.events.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let results = write_batch(&*backend, &batch, &known).await;
        #[cfg(feature = "metrics")]
        metrics.flushed(rows, started, &results);
        known.learn(&batch, &results);
        if results.iter().any(Result::is_ok) {
            committed.send_modify(|n| *n += 1);
        }
        counters
            .flushes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        counters
            .appends
            .fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        for (append, result) in batch.drain(..).zip(results) {
            // The appender may have given up waiting; the write stands either way.
            let _ = append.reply.send(result);
        }
    }
}

/// The metrics of one store's writer (feature `metrics`).
#[cfg(feature = "metrics")]
struct FlushMetrics {
    flushes: metrics::Counter,
    errors: metrics::Counter,
    events: metrics::Histogram,
    commit: metrics::Histogram,
}

#[cfg(feature = "metrics")]
impl FlushMetrics {
    fn new(store: &'static str) -> Self {
        FlushMetrics {
            flushes: metrics::counter!("bactor_persist_flushes_total", "store" => store),
            errors: metrics::counter!("bactor_persist_flush_errors_total", "store" => store),
            events: metrics::histogram!("bactor_persist_batch_events", "store" => store),
            commit: metrics::histogram!("bactor_persist_commit_seconds", "store" => store),
        }
    }

    fn flushed(
        &self,
        rows: usize,
        started: std::time::Instant,
        results: &[Result<u64, StoreError>],
    ) {
        self.commit.record(started.elapsed());
        self.flushes.increment(1);
        self.events.record(rows as f64);
        // A conflict is one append's verdict; anything else failed the flush.
        if results
            .iter()
            .any(|r| matches!(r, Err(e) if !matches!(e, StoreError::Conflict { .. })))
        {
            self.errors.increment(1);
        }
    }
}

/// The highest sequence number this store wrote for each id lately: an append that builds
/// on it needs no check that it leaves no gap (rows are never removed, only marked
/// deleted). A stale one still meets the primary key. Forgotten when it grows large.
#[derive(Default)]
struct Known(HashMap<String, u64>);

impl Known {
    const MAX: usize = 100_000;

    fn builds_on(&self, a: &Append) -> bool {
        a.expected == 0 || self.0.get(&a.persistence_id) == Some(&a.expected)
    }

    fn learn(&mut self, batch: &[Append], results: &[Result<u64, StoreError>]) {
        if self.0.len() > Self::MAX {
            self.0.clear();
        }
        for (a, r) in batch.iter().zip(results) {
            match r {
                // The id is copied only the first time it is seen.
                Ok(highest) => match self.0.get_mut(&a.persistence_id) {
                    Some(known) => *known = *highest,
                    None => {
                        self.0.insert(a.persistence_id.clone(), *highest);
                    }
                },
                Err(_) => {
                    self.0.remove(&a.persistence_id);
                }
            }
        }
    }
}

async fn write_batch<B: BatchBackend>(
    backend: &B,
    batch: &[Append],
    known: &Known,
) -> Vec<Result<u64, StoreError>> {
    let mut ids: Vec<&str> = batch.iter().map(|a| a.persistence_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() == batch.len() {
        // One append per id: the checked insert decides every append on its own.
        return fast_path(backend, batch, known).await;
    }
    // Several appends for one id (later ones build on earlier ones): decide them in order
    // in one transaction.
    match backend.write(ids, batch).await {
        Ok(results) => results,
        // Decide each on its own, so that only the guilty append fails.
        Err(WriteError::Unique | WriteError::Rejected(_)) => one_by_one(backend, batch).await,
        Err(WriteError::Store(e)) => batch.iter().map(|_| Err(e.clone())).collect(),
    }
}

async fn fast_path<B: BatchBackend>(
    backend: &B,
    batch: &[Append],
    known: &Known,
) -> Vec<Result<u64, StoreError>> {
    let check: Vec<bool> = batch.iter().map(|a| !known.builds_on(a)).collect();
    let went_in = match backend.insert_checked(batch, &check, now_millis()).await {
        Ok(went_in) => went_in,
        // One append's rows were refused (an invalid payload): nothing went in; decide
        // each on its own so that only that append fails.
        Err(WriteError::Rejected(e)) if batch.len() == 1 => return vec![Err(e)],
        Err(WriteError::Store(e)) => return batch.iter().map(|_| Err(e.clone())).collect(),
        // A concurrent writer outside this store took a sequence number: nothing went in.
        Err(WriteError::Unique | WriteError::Rejected(_)) => {
            return one_by_one(backend, batch).await;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for (i, a) in batch.iter().enumerate() {
        results.push(if went_in.get(i).copied().unwrap_or(false) {
            Ok(a.expected + a.events.len() as u64)
        } else {
            // Refused (a stale view): decide it again to report the exact conflict.
            single(backend, a).await
        });
    }
    results
}

async fn single<B: BatchBackend>(backend: &B, a: &Append) -> Result<u64, StoreError> {
    let ids = vec![a.persistence_id.as_str()];
    match backend.write(ids, std::slice::from_ref(a)).await {
        Ok(mut r) => r.pop().unwrap_or(Err(StoreError::Closed)),
        Err(WriteError::Unique) => Err(lost_race(a)),
        Err(WriteError::Rejected(e) | WriteError::Store(e)) => Err(e),
    }
}

/// Decides each append in a transaction of its own, so only the conflicting ones fail.
async fn one_by_one<B: BatchBackend>(
    backend: &B,
    batch: &[Append],
) -> Vec<Result<u64, StoreError>> {
    let mut results = Vec::with_capacity(batch.len());
    for a in batch {
        results.push(single(backend, a).await);
    }
    results
}

/// The conflict of an append whose first sequence number another writer took.
fn lost_race(a: &Append) -> StoreError {
    StoreError::Conflict {
        persistence_id: a.persistence_id.clone(),
        expected: a.expected,
        actual: a.expected + 1,
    }
}
