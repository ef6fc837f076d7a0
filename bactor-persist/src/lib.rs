#![forbid(unsafe_code)]
//! The event store behind bactor's persistence (the `persist` feature of `bactor`).
//!
//! This crate knows nothing about actors. It stores, per *persistence id*:
//!
//! - a **journal** of events, keyed `(persistence_id, sequence_nr)`, with sequence numbers
//!   starting at 1 and no gaps. [`Journal::append`] writes a batch atomically and only if the
//!   writer knew the current highest sequence number (optimistic concurrency): a second
//!   writer for the same id gets [`StoreError::Conflict`] instead of interleaving its
//!   history. Deleting events never resets the highest sequence number.
//! - **snapshots**: a serialized state at a sequence number, so recovery need not replay
//!   the whole journal.
//!
//! Events and snapshots are JSON text with a *manifest* (the type name of what was stored),
//! kept as `TEXT` on both SQL backends, byte for byte, so operators can read them (on
//! Postgres, cast to `jsonb` to query them).
//!
//! Backends: [`MemoryStore`] (tests), `SqliteStore` (feature `sqlite`, the default: the
//! embedded store, a file or in-memory) and `PostgresStore` (feature `postgres`). The SQL
//! backends create their schema with embedded migrations and batch concurrent appends from
//! many writers into one transaction per flush (group commit). All three pass the same
//! conformance suite, the module `tck` (feature `tck`, for testing a backend of your own),
//! modelled on Akka's persistence TCK.

#![warn(missing_docs)]

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod batch;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use batch::CommitStats;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod projection;
mod query;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
/// The SQL toolkit the SQL stores are built on, for the handlers of
/// [`Projection::run_in_transaction`] (which get a connection of its kind).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sqlx;
#[cfg(feature = "tck")]
pub mod tck;
#[cfg(feature = "tck")]
#[doc(hidden)]
pub mod testing;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use projection::{EventHandler, HandlerError, Projection, ProjectionError, ProjectionRun};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use projection::{SqlEventHandler, TransactionalStore};
pub use query::{EventEnvelope, EventStream, OffsetStore, ReadJournal};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A boxed, sendable future: what the store traits return, so they can be used as
/// `Arc<dyn Journal>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An event to append: its manifest, its JSON payload and its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// What the payload is (for example `Account::Deposited`).
    pub manifest: String,
    /// The event, as JSON text.
    pub payload: String,
    /// The tags it is stored with, for [`ReadJournal::events_by_tag`] (none by default;
    /// duplicates count once).
    pub tags: Vec<String>,
}

impl NewEvent {
    /// An event with this manifest and JSON payload, without tags.
    pub fn new(manifest: impl Into<String>, payload: impl Into<String>) -> Self {
        NewEvent {
            manifest: manifest.into(),
            payload: payload.into(),
            tags: Vec::new(),
        }
    }

    /// The same event, stored with these tags too.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor_persist::NewEvent;
    ///
    /// let e = NewEvent::new("Deposited", r#"{"amount":5}"#).tagged(["account", "EUR"]);
    /// assert_eq!(e.tags, ["account", "EUR"]);
    /// ```
    pub fn tagged<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }
}

/// A stored event, as replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// Whose event it is.
    pub persistence_id: String,
    /// Its position in that journal, from 1.
    pub sequence_nr: u64,
    /// What the payload is.
    pub manifest: String,
    /// The event, as JSON text.
    pub payload: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub written_at: i64,
}

/// A stored event as recovery reads it ([`Journal::replay_payloads`]): what
/// [`EventRecord`] holds, less what recovery does not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayedPayload {
    /// Its position in the journal, from 1.
    pub sequence_nr: u64,
    /// What the payload is; only when asked for.
    pub manifest: Option<String>,
    /// The event, as JSON text.
    pub payload: String,
}

/// Which snapshots a load or delete considers. The default matches every snapshot.
///
/// # Example
///
/// ```
/// use bactor_persist::SnapshotCriteria;
///
/// let c = SnapshotCriteria::latest().max_sequence_nr(100);
/// assert!(c.matches(100, 0) && !c.matches(101, 0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotCriteria {
    /// Highest sequence number considered (inclusive).
    pub max_sequence_nr: u64,
    /// Latest creation time considered, in ms since the epoch (inclusive).
    pub max_timestamp: i64,
    /// Lowest sequence number considered (inclusive).
    pub min_sequence_nr: u64,
    /// Earliest creation time considered (inclusive).
    pub min_timestamp: i64,
}

impl Default for SnapshotCriteria {
    fn default() -> Self {
        SnapshotCriteria::latest()
    }
}

impl SnapshotCriteria {
    /// Every snapshot.
    pub fn latest() -> Self {
        SnapshotCriteria {
            max_sequence_nr: u64::MAX,
            max_timestamp: i64::MAX,
            min_sequence_nr: 0,
            min_timestamp: 0,
        }
    }

    /// Only snapshots at or below this sequence number.
    pub fn max_sequence_nr(mut self, max: u64) -> Self {
        self.max_sequence_nr = max;
        self
    }

    /// Only snapshots created at or before this time (ms since the epoch).
    pub fn max_timestamp(mut self, max: i64) -> Self {
        self.max_timestamp = max;
        self
    }

    /// Only snapshots at or above this sequence number.
    pub fn min_sequence_nr(mut self, min: u64) -> Self {
        self.min_sequence_nr = min;
        self
    }

    /// Only snapshots created at or after this time.
    pub fn min_timestamp(mut self, min: i64) -> Self {
        self.min_timestamp = min;
        self
    }

    /// Whether a snapshot at `sequence_nr`, created at `timestamp`, matches.
    pub fn matches(&self, sequence_nr: u64, timestamp: i64) -> bool {
        (self.min_sequence_nr..=self.max_sequence_nr).contains(&sequence_nr)
            && (self.min_timestamp..=self.max_timestamp).contains(&timestamp)
    }
}

/// A stored snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRecord {
    /// Whose state it is.
    pub persistence_id: String,
    /// The last event folded into it.
    pub sequence_nr: u64,
    /// When it was saved, in ms since the epoch.
    pub created_at: i64,
    /// What the payload is.
    pub manifest: String,
    /// The state, as JSON text.
    pub payload: String,
}

/// Why a store operation failed.
///
/// # Example
///
/// ```
/// use bactor_persist::StoreError;
///
/// let e = StoreError::Conflict { persistence_id: "a".into(), expected: 3, actual: 4 };
/// assert!(e.is_conflict());
/// assert_eq!(e.to_string(), "journal conflict on `a`: expected sequence number 3, found 4");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// Another writer appended to this journal first: the writer's view is stale.
    Conflict {
        /// The journal.
        persistence_id: String,
        /// The highest sequence number the writer expected.
        expected: u64,
        /// The highest sequence number found.
        actual: u64,
    },
    /// The database failed or could not be reached (a lost connection, a full disk...).
    Backend(Arc<dyn StdError + Send + Sync>),
    /// The store was shut down.
    Closed,
}

/// What kind of [`StoreError`] an error is: comparable, for tests and for matching
/// without the details.
///
/// # Example
///
/// ```
/// use bactor_persist::{StoreError, StoreErrorKind};
///
/// let e = StoreError::Conflict { persistence_id: "acct-1".into(), expected: 3, actual: 4 };
/// assert_eq!(e.kind(), StoreErrorKind::Conflict);
/// assert_eq!(StoreError::Closed.kind(), StoreErrorKind::Closed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// [`StoreError::Conflict`].
    Conflict,
    /// [`StoreError::Backend`].
    Backend,
    /// [`StoreError::Closed`].
    Closed,
}

impl StoreError {
    /// `true` for [`StoreError::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// The kind of error, without its details.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Conflict { .. } => StoreErrorKind::Conflict,
            StoreError::Backend(_) => StoreErrorKind::Backend,
            StoreError::Closed => StoreErrorKind::Closed,
        }
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn backend(e: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Backend(Arc::new(e))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict {
                persistence_id,
                expected,
                actual,
            } => write!(
                f,
                "journal conflict on `{persistence_id}`: expected sequence number {expected}, found {actual}"
            ),
            StoreError::Backend(e) => write!(f, "event store failed: {e}"),
            StoreError::Closed => f.write_str("event store is closed"),
        }
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Backend(e) => f.debug_tuple("Backend").field(e).finish(),
            other => write!(f, "{other}"),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            StoreError::Backend(e) => Some(&**e),
            _ => None,
        }
    }
}

/// An append-only event journal.
pub trait Journal: Send + Sync + 'static {
    /// Appends `events` after sequence number `expected` (the highest the writer knows; `0`
    /// for a new journal), all or none. Returns the new highest sequence number. Fails with
    /// [`StoreError::Conflict`] when the journal's highest is not `expected`.
    fn append<'a>(
        &'a self,
        persistence_id: &'a str,
        expected: u64,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Events with `from <= sequence_nr <= to`, at most `max`, oldest first. Deleted
    /// events are not returned.
    fn replay<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        to: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, StoreError>>;

    /// What recovery reads: [`replay`](Journal::replay)'s events, without the persistence
    /// id and the time, and with the manifest only if `manifests` (an upcaster needs it).
    /// Reading fewer columns makes recovery faster on the SQL stores, which override
    /// this; the default calls `replay`.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor_persist::{Journal, MemoryStore, NewEvent};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = MemoryStore::new();
    /// store.append("a", 0, vec![NewEvent::new("E", "1")]).await.unwrap();
    /// let events = store.replay_payloads("a", 1, u64::MAX, 10, false).await.unwrap();
    /// assert_eq!((events[0].sequence_nr, events[0].payload.as_str()), (1, "1"));
    /// assert_eq!(events[0].manifest, None);
    /// # }
    /// ```
    fn replay_payloads<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        to: u64,
        max: u64,
        manifests: bool,
    ) -> BoxFuture<'a, Result<Vec<ReplayedPayload>, StoreError>> {
        Box::pin(payloads_of_replay(
            self,
            persistence_id,
            from,
            to,
            max,
            manifests,
        ))
    }

    /// The highest sequence number ever written (`0` for an unknown id), deleted events
    /// included.
    fn highest_sequence_nr<'a>(
        &'a self,
        persistence_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Deletes the events up to and including `to`. The highest sequence number stays.
    fn delete_to<'a>(
        &'a self,
        persistence_id: &'a str,
        to: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// [`Journal::replay_payloads`] through [`Journal::replay`].
pub(crate) async fn payloads_of_replay<J: Journal + ?Sized>(
    journal: &J,
    persistence_id: &str,
    from: u64,
    to: u64,
    max: u64,
    manifests: bool,
) -> Result<Vec<ReplayedPayload>, StoreError> {
    let events = journal.replay(persistence_id, from, to, max).await?;
    Ok(events
        .into_iter()
        .map(|e| ReplayedPayload {
            sequence_nr: e.sequence_nr,
            manifest: manifests.then_some(e.manifest),
            payload: e.payload,
        })
        .collect())
}

/// A store of snapshots.
pub trait SnapshotStore: Send + Sync + 'static {
    /// Saves a snapshot; one at the same sequence number is overwritten.
    fn save<'a>(&'a self, snapshot: SnapshotRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The newest snapshot matching `criteria` (highest sequence number).
    fn load<'a>(
        &'a self,
        persistence_id: &'a str,
        criteria: SnapshotCriteria,
    ) -> BoxFuture<'a, Result<Option<SnapshotRecord>, StoreError>>;

    /// Deletes the snapshot at this sequence number, if any.
    fn delete<'a>(
        &'a self,
        persistence_id: &'a str,
        sequence_nr: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Deletes every snapshot matching `criteria`.
    fn delete_matching<'a>(
        &'a self,
        persistence_id: &'a str,
        criteria: SnapshotCriteria,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Sequence numbers are `u64` in the API and `BIGINT` in the databases.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
