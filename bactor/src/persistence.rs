//! Event-sourced actors (feature `persist`).
//!
//! A persistent actor's state is the fold of its events. A handler does not change the
//! state directly: it calls [`PersistentActor::persist`], which stores the event in the
//! journal and then applies it through the actor's `#[event]` method. On every start and
//! restart, before the first message, the actor recovers: its newest snapshot (if it takes
//! snapshots), then the later events replayed through the same `#[event]` methods.
//!
//! ```
//! use bactor::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[actor]
//! #[persistent(snapshot_every = 100, keep_snapshots = 2)]
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Account {
//!     balance: u64,
//! }
//!
//! #[actor]
//! impl Account {
//!     #[handler]
//!     async fn deposit(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, PersistError> {
//!         self.persist(ctx, AccountEvent::Deposited { amount }).await?; // stored, then applied
//!         Ok(self.balance)
//!     }
//!
//!     #[event] // generates AccountEvent::Deposited { amount } and the replay glue
//!     fn deposited(&mut self, amount: u64) {
//!         self.balance += amount;
//!     }
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = bactor::persist::SqliteStore::in_memory().await?;
//! let system = ActorSystem::builder().persistence(store.clone()).build();
//! let acct = system.spawn_persistent("account-42", Account::default).await?;
//! assert_eq!(acct.deposit(5).await?, 5);
//! acct.stop();
//! acct.stopped().await;
//! // A new incarnation recovers the balance from the journal.
//! let again = system.spawn_persistent("account-42", Account::default).await?;
//! assert_eq!(again.deposit(1).await?, 6);
//! # system.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Writes are checked with optimistic concurrency: if two live actors share a persistence
//! id, the second one's `persist` fails with a conflict and nothing interleaves. A failed
//! `persist` returns the error to the handler (state unchanged) *and* fails the actor once
//! the handler returns, so its supervisor restarts it and recovery reloads the truth.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use bactor_persist::{
    Journal, NewEvent, ReplayedPayload, SnapshotCriteria, SnapshotRecord, SnapshotStore, StoreError,
};

use crate::actor::Actor;
use crate::context::Context;
use crate::error::ActorError;

/// Why persisting or recovering failed.
///
/// Returned by [`PersistentActor::persist`]; a recovery failure fails the actor with it.
///
/// # Example
///
/// ```
/// use bactor::PersistError;
///
/// assert_eq!(PersistError::NotPersistent.to_string(), "actor was not spawned with a persistence id");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum PersistError {
    /// The store refused or failed the write (a conflict, a lost connection...).
    Store(StoreError),
    /// The event or state could not be serialized.
    Encode(Arc<serde_json::Error>),
    /// A stored event or snapshot could not be decoded during recovery.
    Decode {
        /// The journal.
        persistence_id: String,
        /// The event's sequence number (the snapshot's, for a snapshot).
        sequence_nr: u64,
        /// Its manifest.
        manifest: String,
        /// Why decoding failed.
        error: Arc<serde_json::Error>,
    },
    /// The actor was spawned without a persistence id (use `spawn_persistent`).
    NotPersistent,
}

/// Why [`ActorSystem::spawn_recovered`](crate::ActorSystem::spawn_recovered) returned no
/// actor.
///
/// # Example
///
/// ```
/// use bactor::{PersistError, RecoveryError};
///
/// let e = RecoveryError::Failed(PersistError::NotPersistent);
/// assert_eq!(e.to_string(), "recovery failed: actor was not spawned with a persistence id");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RecoveryError {
    /// The actor could not be spawned.
    Spawn(crate::SpawnError),
    /// Recovery failed; the actor was stopped.
    Failed(PersistError),
    /// The actor stopped before its recovery finished (it failed before recovering, and
    /// its supervisor stopped it).
    Stopped,
}

impl fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecoveryError::Spawn(e) => write!(f, "cannot spawn: {e}"),
            RecoveryError::Failed(e) => write!(f, "recovery failed: {e}"),
            RecoveryError::Stopped => f.write_str("the actor stopped before it recovered"),
        }
    }
}

impl std::error::Error for RecoveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecoveryError::Spawn(e) => Some(e),
            RecoveryError::Failed(e) => Some(e),
            RecoveryError::Stopped => None,
        }
    }
}

/// What kind of [`PersistError`] an error is: comparable, for tests and for matching
/// without the details.
///
/// # Example
///
/// ```
/// use bactor::persist::{StoreError, StoreErrorKind};
/// use bactor::{PersistError, PersistErrorKind};
///
/// assert_eq!(PersistError::NotPersistent.kind(), PersistErrorKind::NotPersistent);
/// let closed = PersistError::Store(StoreError::Closed);
/// assert_eq!(closed.kind(), PersistErrorKind::Store(StoreErrorKind::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PersistErrorKind {
    /// [`PersistError::Store`], with the store error's kind.
    Store(bactor_persist::StoreErrorKind),
    /// [`PersistError::Encode`].
    Encode,
    /// [`PersistError::Decode`].
    Decode,
    /// [`PersistError::NotPersistent`].
    NotPersistent,
}

impl PersistError {
    /// `true` when another writer got to the journal first.
    pub fn is_conflict(&self) -> bool {
        matches!(self, PersistError::Store(e) if e.is_conflict())
    }

    /// The kind of error, without its details.
    pub fn kind(&self) -> PersistErrorKind {
        match self {
            PersistError::Store(e) => PersistErrorKind::Store(e.kind()),
            PersistError::Encode(_) => PersistErrorKind::Encode,
            PersistError::Decode { .. } => PersistErrorKind::Decode,
            PersistError::NotPersistent => PersistErrorKind::NotPersistent,
        }
    }
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PersistError::Store(e) => fmt::Display::fmt(e, f),
            PersistError::Encode(e) => write!(f, "cannot serialize for the journal: {e}"),
            PersistError::Decode {
                persistence_id,
                sequence_nr,
                manifest,
                error,
            } => write!(
                f,
                "cannot decode `{manifest}` #{sequence_nr} of `{persistence_id}`: {error}"
            ),
            PersistError::NotPersistent => {
                f.write_str("actor was not spawned with a persistence id")
            }
        }
    }
}

impl fmt::Debug for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for PersistError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PersistError::Store(e) => Some(e),
            PersistError::Encode(e) | PersistError::Decode { error: e, .. } => Some(&**e),
            PersistError::NotPersistent => None,
        }
    }
}

impl From<StoreError> for PersistError {
    fn from(e: StoreError) -> Self {
        PersistError::Store(e)
    }
}

/// Snapshot settings of a persistent actor type: `#[persistent(snapshot_every = N,
/// keep_snapshots = K, bad_snapshot = older | fail)]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PersistConfig {
    /// Save a snapshot after this many events (none when `None`).
    pub snapshot_every: Option<u64>,
    /// Keep this many newest snapshots and delete older ones (all when `None`).
    pub keep_snapshots: Option<u64>,
    /// What recovery does with a snapshot that no longer decodes.
    pub bad_snapshot: BadSnapshot,
    /// What an actor does when another writer got to its journal first.
    pub on_conflict: OnConflict,
}

/// What a persistent actor does when a write meets a conflict, that is, when another live
/// incarnation of the same persistence id wrote first: `#[persistent(on_conflict = stop)]`
/// (the default) or `#[persistent(on_conflict = restart)]`.
///
/// Either way the write returns the conflict (`PersistError::Store`, `is_conflict()`), its
/// event is not applied, and [`SystemEvent::PersistConflict`](crate::SystemEvent) says so.
///
/// # Example
///
/// ```
/// use bactor::{OnConflict, PersistConfig};
///
/// assert_eq!(PersistConfig::default().on_conflict, OnConflict::Stop);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnConflict {
    /// Stop once the handler returns: the other incarnation owns the id, and fighting it
    /// (reload, write, conflict, again) helps nobody.
    #[default]
    Stop,
    /// Fail, so that the supervisor decides (by default a restart, which reloads the
    /// journal and carries on from there). For a writer that is expected to win later.
    Restart,
}

/// What recovery does with a snapshot that no longer decodes (the state's type changed
/// since it was written): `#[persistent(bad_snapshot = older)]` (the default) or
/// `#[persistent(bad_snapshot = fail)]`.
///
/// # Example
///
/// ```
/// use bactor::{BadSnapshot, PersistConfig};
///
/// assert_eq!(PersistConfig::default().bad_snapshot, BadSnapshot::Older);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadSnapshot {
    /// Skip it (publishing [`SystemEvent::SnapshotSkipped`](crate::SystemEvent)) and
    /// recover from the newest older snapshot that decodes, or from the start of the
    /// journal: the events are the truth, a snapshot only a shortcut. If events the
    /// fallback needs were deleted, recovery fails with the snapshot's decode error.
    #[default]
    Older,
    /// Fail recovery with [`PersistError::Decode`]: the actor fails under supervision.
    Fail,
}

/// The journal and snapshot store a system's persistent actors use. Set with
/// [`ActorSystemBuilder::persistence`](crate::ActorSystemBuilder::persistence).
#[derive(Clone)]
pub struct Persistence {
    pub(crate) journal: Arc<dyn Journal>,
    pub(crate) snapshots: Arc<dyn SnapshotStore>,
}

impl fmt::Debug for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Persistence").finish_non_exhaustive()
    }
}

impl Persistence {
    /// One store serving as both journal and snapshot store.
    pub fn new<S: Journal + SnapshotStore + Clone>(store: S) -> Self {
        Persistence {
            journal: Arc::new(store.clone()),
            snapshots: Arc::new(store),
        }
    }

    /// A journal and a separate snapshot store.
    pub fn split(journal: impl Journal, snapshots: impl SnapshotStore) -> Self {
        Persistence {
            journal: Arc::new(journal),
            snapshots: Arc::new(snapshots),
        }
    }
}

/// The persistence state of one running persistent actor.
pub(crate) struct PersistState {
    pub(crate) id: String,
    store: Persistence,
    /// The highest sequence number this incarnation has seen (its expected on append).
    seq: u64,
    since_snapshot: u64,
    /// Who waits for the first recovery's outcome ([`ActorSystem::spawn_recovered`]).
    ///
    /// [`ActorSystem::spawn_recovered`]: crate::ActorSystem::spawn_recovered
    pub(crate) on_recovered: Option<RecoveryNotice>,
    /// Events of [`PersistentActor::persist_deferred`] not durable yet, and the replies
    /// waiting for them; `None` until the first.
    deferred: Option<Box<Deferred>>,
}

/// What [`PersistentActor::persist_deferred`] keeps between messages. The actor's
/// sequence number (`PersistState::seq`) counts every applied event; `durable` the ones
/// the journal confirmed. Between them: the write in flight, then `pending`.
struct Deferred {
    /// Applied, not sent yet: they go together when the write in flight is done.
    pending: Vec<NewEvent>,
    /// The write in flight: where its result arrives, and the sequence number it reaches.
    in_flight: Option<(tokio::sync::oneshot::Receiver<Result<u64, StoreError>>, u64)>,
    durable: u64,
    /// Replies held until `durable` reaches the sequence number each depends on, in the
    /// order they were made. (In a mutex only to be `Sync`: reached through `get_mut`.)
    held: std::sync::Mutex<std::collections::VecDeque<(u64, HeldReply)>>,
    on_conflict: OnConflict,
}

/// A held reply: sends it (`true`) or fails the ask (`false`).
type HeldReply = Box<dyn FnOnce(bool) + Send>;

impl Deferred {
    /// Sends the held replies whose events are durable.
    fn release(&mut self) {
        let durable = self.durable;
        let held = self.held();
        while held.front().is_some_and(|(seq, _)| *seq <= durable) {
            if let Some((_, reply)) = held.pop_front() {
                reply(true);
            }
        }
    }

    /// Fails every held reply: their events will never be durable.
    fn fail_all(&mut self) {
        for (_, reply) in self.held().drain(..) {
            reply(false);
        }
    }

    fn held(&mut self) -> &mut std::collections::VecDeque<(u64, HeldReply)> {
        // A reply that panicked left nothing half-done in the queue.
        self.held.get_mut().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where the outcome of an actor's first recovery goes (shared, so that `Props` stays
/// `Clone`; taken once).
pub(crate) type RecoveryNotice =
    Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Result<(), PersistError>>>>>;

impl PersistState {
    pub(crate) fn new(id: String, store: Persistence) -> Self {
        PersistState {
            id,
            store,
            seq: 0,
            since_snapshot: 0,
            on_recovered: None,
            deferred: None,
        }
    }

    /// `true` while events of `persist_deferred` are not durable.
    fn undurable(&self) -> bool {
        self.deferred.as_ref().is_some_and(|d| d.durable < self.seq)
    }

    /// Sends the pending deferred events to the journal, unless a write is in flight:
    /// one append, from its own task, whose end wakes the actor (`SystemMsg::Persisted`).
    fn start_write(&mut self, wake: &crate::syslane::SysSender) {
        let Some(d) = self.deferred.as_deref_mut() else {
            return;
        };
        if d.in_flight.is_some() || d.pending.is_empty() {
            return;
        }
        let events = std::mem::take(&mut d.pending);
        let expected = d.durable;
        let (journal, id, wake) = (
            Arc::clone(&self.store.journal),
            self.id.clone(),
            wake.clone(),
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let result = journal.append(&id, expected, events).await;
            let _ = tx.send(result);
            // Gone if the actor stopped: then nobody waits.
            let _ = wake.send(crate::system::SystemMsg::Persisted);
        });
        d.in_flight = Some((rx, self.seq));
    }

    /// Waits until every deferred event is durable (or failed): the write in flight,
    /// then the pending events. Held replies are released, or failed with the write.
    async fn drain_deferred(&mut self) -> Result<(), StoreError> {
        let Some(d) = self.deferred.as_deref_mut() else {
            return Ok(());
        };
        if let Some((rx, high)) = d.in_flight.take() {
            match rx.await.unwrap_or(Err(StoreError::Closed)) {
                Ok(_) => d.durable = high,
                Err(e) => {
                    self.deferred_failed();
                    return Err(e);
                }
            }
        }
        let Some(d) = self.deferred.as_deref_mut() else {
            return Ok(());
        };
        if !d.pending.is_empty() {
            let events = std::mem::take(&mut d.pending);
            match self.store.journal.append(&self.id, d.durable, events).await {
                Ok(high) => d.durable = high,
                Err(e) => {
                    self.deferred_failed();
                    return Err(e);
                }
            }
        }
        if let Some(d) = self.deferred.as_deref_mut() {
            d.release();
        }
        Ok(())
    }

    /// A deferred write failed: its replies and the later ones fail, the pending events
    /// are dropped. The actor's state is ahead of its journal: it must fail (a restart
    /// recovers the truth).
    fn deferred_failed(&mut self) {
        if let Some(mut d) = self.deferred.take() {
            d.fail_all();
        }
    }

    pub(crate) fn sequence_nr(&self) -> u64 {
        self.seq
    }
}

/// An actor whose state is the fold of its events. `#[actor]` implements it for an impl
/// block with `#[event]` methods on a `#[persistent]` struct.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a persistent actor",
    note = "mark the struct `#[persistent]` and give its `#[actor]` impl block `#[event]` methods"
)]
pub trait PersistentActor: Actor {
    /// The events: `#[actor]` generates `{Name}Event`, one variant per `#[event]` method.
    /// (The trait's other items, hidden here, are the glue `#[actor]` generates: the
    /// event manifest, tags, snapshot codec and settings.)
    type Event: Serialize + DeserializeOwned + Send + 'static;

    /// Applies one event to the state (the matching `#[event]` method).
    #[doc(hidden)]
    fn apply_event(&mut self, event: Self::Event);

    /// The manifest stored with an event: `Type::Variant`, or its `#[event(name = ..)]`.
    #[doc(hidden)]
    fn event_manifest(event: &Self::Event) -> &'static str;

    /// The manifest stored with a snapshot: the actor type's name as written (`Account`),
    /// stable across module moves and compiler versions (unlike `std::any::type_name`).
    #[doc(hidden)]
    fn snapshot_manifest() -> &'static str;

    /// Snapshot settings.
    #[doc(hidden)]
    fn persist_config() -> PersistConfig {
        PersistConfig::default()
    }

    /// The state as JSON, for a snapshot; `None` when the type takes no snapshots.
    #[doc(hidden)]
    fn snapshot_state(&self) -> Option<Result<String, serde_json::Error>> {
        None
    }

    /// The state from a snapshot; `None` when the type takes no snapshots.
    #[doc(hidden)]
    fn restore_state(_payload: &str) -> Option<Result<Self, serde_json::Error>> {
        None
    }

    /// What turns events written by older versions into current ones (see [`Upcaster`]);
    /// `#[persistent(upcast = path)]` sets it.
    #[doc(hidden)]
    fn upcaster() -> Option<Upcaster> {
        None
    }

    /// The tags an event is stored with, for queries by tag
    /// ([`ReadJournal::events_by_tag`](bactor_persist::ReadJournal::events_by_tag)): its
    /// `#[event(tags = [..])]` and what `#[persistent(tag_with = path)]` returns for it.
    #[doc(hidden)]
    fn event_tags(_event: &Self::Event) -> Vec<String> {
        Vec::new()
    }

    /// Stores `event`, then applies it. On failure the state is unchanged, the error is
    /// returned, and the actor fails once the current handler returns.
    fn persist(
        &mut self,
        ctx: &mut Context<Self>,
        event: Self::Event,
    ) -> impl Future<Output = Result<(), PersistError>> + Send {
        persist_all(self, ctx, vec![event])
    }

    /// Applies `event` now and stores it with the next write, without waiting (Akka's
    /// `persistAsync` with batched writes): events persisted by consecutive messages go
    /// to the journal together, one write in flight at a time, so one busy actor is not
    /// capped at one commit per event.
    ///
    /// Nothing is visible to a caller before it is durable: every reply this actor's
    /// handlers return while such events are not durable is held until they are, and
    /// sent in order. Tells and messages the handler sends itself are not held. If a
    /// write fails, every held reply fails ([`AskError::Failed`](crate::AskError)), the
    /// pending events are dropped, and the actor fails (its supervisor restarts it by
    /// default, and recovery reloads the journal; a conflict stops it, as for
    /// [`persist`](Self::persist)). A [`persist`](Self::persist) waits for the deferred
    /// events first; stopping the actor writes them before `post_stop`. Snapshots are
    /// taken only when every event is durable.
    ///
    /// Returns an error only if the event cannot be serialized, or the actor is not
    /// persistent.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[persistent]
    /// #[derive(Default)]
    /// struct Counter { n: u64 }
    ///
    /// #[actor]
    /// impl Counter {
    ///     /// The reply is sent once the event is durable; meanwhile the actor serves the
    ///     /// next messages, whose events join the same write.
    ///     #[handler]
    ///     fn add(&mut self, ctx: &mut Context<Self>, by: u64) -> Result<u64, PersistError> {
    ///         self.persist_deferred(ctx, CounterEvent::Added { by })?;
    ///         Ok(self.n)
    ///     }
    ///
    ///     #[event]
    ///     fn added(&mut self, by: u64) { self.n += by; }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = bactor::persist::SqliteStore::in_memory().await?;
    /// let system = ActorSystem::builder().persistence(store).build();
    /// let counter = system.spawn_persistent("counter", Counter::default).await?;
    /// let asks: Vec<_> = (0..100).map(|_| counter.add(1)).collect();
    /// let mut replies = Vec::new();
    /// for ask in asks {
    ///     replies.push(ask.await?);
    /// }
    /// assert_eq!(replies.len(), 100);
    /// assert_eq!(counter.add(0).await?, 100);
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    fn persist_deferred(
        &mut self,
        ctx: &mut Context<Self>,
        event: Self::Event,
    ) -> Result<(), PersistError> {
        persist_deferred(self, ctx, event)
    }

    /// Stores `events` atomically (all or none), then applies them in order.
    fn persist_all(
        &mut self,
        ctx: &mut Context<Self>,
        events: Vec<Self::Event>,
    ) -> impl Future<Output = Result<(), PersistError>> + Send {
        persist_all(self, ctx, events)
    }
}

async fn persist_all<A: PersistentActor>(
    actor: &mut A,
    ctx: &mut Context<A>,
    events: Vec<A::Event>,
) -> Result<(), PersistError> {
    let result = write(actor, ctx, events).await;
    if let Err(e) = &result {
        if let PersistError::Store(StoreError::Conflict {
            persistence_id,
            expected,
            actual,
        }) = e
        {
            ctx.system()
                .events()
                .publish(crate::SystemEvent::PersistConflict {
                    pid: ctx.pid(),
                    persistence_id: persistence_id.clone(),
                    expected: *expected,
                    actual: *actual,
                });
            if A::persist_config().on_conflict == OnConflict::Stop {
                ctx.stop();
                return result;
            }
        }
        // The actor's view of its journal can no longer be trusted: fail it after the
        // handler, so its supervisor decides (a restart recovers the truth).
        ctx.fail_after_handler(ActorError::from(e.clone()));
    }
    result
}

async fn write<A: PersistentActor>(
    actor: &mut A,
    ctx: &mut Context<A>,
    events: Vec<A::Event>,
) -> Result<(), PersistError> {
    let pid = ctx.pid();
    let Some(st) = ctx.persistence.as_deref_mut() else {
        return Err(PersistError::NotPersistent);
    };
    // Deferred events come first in the journal.
    if st.undurable() {
        st.drain_deferred().await?;
    }
    let mut rows = Vec::with_capacity(events.len());
    for e in &events {
        let payload = serde_json::to_string(e).map_err(|e| PersistError::Encode(Arc::new(e)))?;
        let mut row = NewEvent::new(A::event_manifest(e), payload);
        row.tags = A::event_tags(e);
        rows.push(row);
    }
    let count = rows.len() as u64;
    st.seq = st.store.journal.append(&st.id, st.seq, rows).await?;
    if let Some(d) = st.deferred.as_deref_mut() {
        d.durable = st.seq;
    }
    for e in events {
        actor.apply_event(e);
    }
    st.since_snapshot += count;
    let config = A::persist_config();
    let mut failed_snapshot = None;
    if let Some(every) = config.snapshot_every
        && st.since_snapshot >= every
    {
        st.since_snapshot = 0;
        // Serialized before any await: the future holds no shared borrow of the actor.
        if let Some(state) = actor.snapshot_state()
            && let Err(e) = snapshot::<A>(state, st, config, every).await
        {
            failed_snapshot = Some(e);
        }
    }
    if let Some(e) = failed_snapshot {
        // The events are stored and applied: a failed snapshot only makes the next recovery
        // longer. Say so on the event stream rather than fail the write.
        ctx.system()
            .events()
            .publish(crate::SystemEvent::SnapshotFailed {
                pid,
                error: e.to_string(),
            });
    }
    Ok(())
}

fn persist_deferred<A: PersistentActor>(
    actor: &mut A,
    ctx: &mut Context<A>,
    event: A::Event,
) -> Result<(), PersistError> {
    let config = A::persist_config();
    // Every event so far durable and a snapshot due: the state is exactly the journal's.
    let snapshot_due = config.snapshot_every.is_some_and(|every| {
        ctx.persistence
            .as_deref()
            .is_some_and(|st| st.since_snapshot >= every && !st.undurable())
    });
    let snapshot_to = snapshot_due.then(|| (ctx.pid(), ctx.system().clone()));
    let (Some(st), wake) = ctx.persistence_and_lane() else {
        return Err(PersistError::NotPersistent);
    };
    let payload = serde_json::to_string(&event).map_err(|e| PersistError::Encode(Arc::new(e)))?;
    let mut row = NewEvent::new(A::event_manifest(&event), payload);
    row.tags = A::event_tags(&event);
    if let (Some(every), Some((pid, system))) = (config.snapshot_every, snapshot_to) {
        st.since_snapshot = 0;
        if let Some(state) = actor.snapshot_state() {
            let view = PersistState::new(st.id.clone(), st.store.clone());
            let seq = st.seq;
            tokio::spawn(async move {
                let view = PersistState { seq, ..view };
                if let Err(e) = snapshot::<A>(state, &view, config, every).await {
                    system.events().publish(crate::SystemEvent::SnapshotFailed {
                        pid,
                        error: e.to_string(),
                    });
                }
            });
        }
    }
    let d = st.deferred.get_or_insert_with(|| {
        Box::new(Deferred {
            pending: Vec::new(),
            in_flight: None,
            durable: st.seq,
            held: std::sync::Mutex::default(),
            on_conflict: config.on_conflict,
        })
    });
    d.pending.push(row);
    actor.apply_event(event);
    st.seq += 1;
    st.since_snapshot += 1;
    st.start_write(wake);
    Ok(())
}

/// Sends a handler's reply, or holds it until the events it may depend on are durable
/// (see [`PersistentActor::persist_deferred`]). Used by generated code.
#[doc(hidden)]
pub fn send_reply<A: Actor, R: Send + 'static>(
    ctx: &mut Context<A>,
    reply: crate::ReplyTo<R>,
    value: R,
) {
    if let Some(st) = ctx.persistence.as_deref_mut()
        && st.undurable()
        && let Some(d) = st.deferred.as_deref_mut()
    {
        d.held().push_back((
            st.seq,
            Box::new(move |durable| {
                if durable {
                    // The asker may have given up; nothing to do then.
                    let _ = reply.send(value);
                } else {
                    reply.fail();
                }
            }),
        ));
        return;
    }
    let _ = reply.send(value);
}

/// What the end of a deferred write means for the actor.
pub(crate) enum Persisted {
    /// Carry on.
    Done,
    /// The write failed: fail with this error.
    Failed(ActorError),
    /// Another incarnation owns the id (`OnConflict::Stop`).
    Stop,
}

/// A deferred write ended (`SystemMsg::Persisted`): release the replies it made durable
/// and send the events pending since, or fail.
pub(crate) fn persisted<A: Actor>(ctx: &mut Context<A>) -> Persisted {
    let (Some(st), wake) = ctx.persistence_and_lane() else {
        return Persisted::Done;
    };
    let Some(d) = st.deferred.as_deref_mut() else {
        return Persisted::Done;
    };
    // A `persist` may have waited for this write already.
    let Some((rx, high)) = d.in_flight.as_mut() else {
        return Persisted::Done;
    };
    let high = *high;
    let result = match rx.try_recv() {
        Ok(result) => result,
        Err(tokio::sync::oneshot::error::TryRecvError::Empty) => return Persisted::Done,
        Err(tokio::sync::oneshot::error::TryRecvError::Closed) => Err(StoreError::Closed),
    };
    d.in_flight = None;
    match result {
        Ok(_) => {
            d.durable = high;
            d.release();
            st.start_write(wake);
            Persisted::Done
        }
        Err(e) => {
            let on_conflict = d.on_conflict;
            st.deferred_failed();
            if let StoreError::Conflict {
                persistence_id,
                expected,
                actual,
            } = &e
            {
                let pid = ctx.pid();
                ctx.system()
                    .events()
                    .publish(crate::SystemEvent::PersistConflict {
                        pid,
                        persistence_id: persistence_id.clone(),
                        expected: *expected,
                        actual: *actual,
                    });
                if on_conflict == OnConflict::Stop {
                    return Persisted::Stop;
                }
            }
            Persisted::Failed(ActorError::from(PersistError::Store(e)))
        }
    }
}

/// Before a stop or a restart: the deferred events are written (or failed) and their
/// replies released (or failed), so that nothing applied is silently lost and the next
/// incarnation's recovery sees them.
pub(crate) async fn settle<A: Actor>(ctx: &mut Context<A>) {
    if let Some(st) = ctx.persistence.as_deref_mut()
        && st.deferred.is_some()
    {
        if st.drain_deferred().await.is_err() {
            st.deferred_failed();
        }
        st.deferred = None;
    }
}

/// Saves a snapshot at the current sequence number and prunes old ones.
async fn snapshot<A: PersistentActor>(
    state: Result<String, serde_json::Error>,
    st: &PersistState,
    config: PersistConfig,
    every: u64,
) -> Result<(), PersistError> {
    let payload = state.map_err(|e| PersistError::Encode(Arc::new(e)))?;
    let record = SnapshotRecord {
        persistence_id: st.id.clone(),
        sequence_nr: st.seq,
        created_at: bactor_persist::now_millis(),
        manifest: A::snapshot_manifest().to_owned(),
        payload,
    };
    st.store.snapshots.save(record).await?;
    if let Some(keep) = config.keep_snapshots {
        let horizon = st.seq.saturating_sub(keep.saturating_mul(every));
        if horizon > 0 {
            let old = SnapshotCriteria::latest().max_sequence_nr(horizon);
            st.store.snapshots.delete_matching(&st.id, old).await?;
        }
    }
    Ok(())
}

/// The manifest of one stored event (for an error message); empty if it cannot be read.
async fn manifest_of(st: &PersistState, sequence_nr: u64) -> String {
    match st
        .store
        .journal
        .replay(&st.id, sequence_nr, sequence_nr, 1)
        .await
    {
        Ok(mut records) => records.pop().map(|r| r.manifest).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// How many events recovery reads per round trip.
const REPLAY_PAGE: u64 = 10_000;

/// A page of recovery read by a task of its own while the previous page is applied;
/// dropping it stops the read.
struct Prefetch(tokio::task::JoinHandle<Result<Vec<ReplayedPayload>, StoreError>>);

impl Prefetch {
    fn start(journal: &Arc<dyn Journal>, id: &str, from: u64, manifests: bool) -> Self {
        let (journal, id) = (Arc::clone(journal), id.to_owned());
        let task = tokio::spawn(async move {
            journal
                .replay_payloads(&id, from, u64::MAX, REPLAY_PAGE, manifests)
                .await
        });
        Prefetch(task)
    }

    async fn page(mut self) -> Result<Vec<ReplayedPayload>, PersistError> {
        match (&mut self.0).await {
            Ok(page) => page.map_err(PersistError::from),
            Err(e) => Err(PersistError::from(StoreError::Backend(Arc::new(e)))),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Recovery: the newest snapshot, then the later events through `apply_event`. Runs before
/// `pre_start` and before `post_restart`. Publishes [`SystemEvent::Recovered`] when done,
/// and tells a [`spawn_recovered`](crate::ActorSystem::spawn_recovered) waiting for it.
///
/// [`SystemEvent::Recovered`]: crate::SystemEvent::Recovered
#[doc(hidden)]
pub async fn recover<A: PersistentActor>(
    actor: &mut A,
    ctx: &mut Context<A>,
) -> Result<(), ActorError> {
    if ctx.persistence.is_none() {
        return Ok(());
    }
    let (system, pid) = (ctx.system().clone(), ctx.pid());
    let started = std::time::Instant::now();
    let outcome = replay(actor, ctx, &system, pid).await;
    let Some(st) = ctx.persistence.as_deref_mut() else {
        return outcome.map(|_| ()).map_err(ActorError::from);
    };
    if let Ok((snapshot, events)) = outcome {
        system.events().publish(crate::SystemEvent::Recovered {
            pid,
            persistence_id: st.id.clone(),
            snapshot,
            events,
            duration: started.elapsed(),
        });
    }
    if let Some(tx) = st
        .on_recovered
        .take()
        .and_then(|notice| notice.lock().unwrap_or_else(|p| p.into_inner()).take())
    {
        let _ = tx.send(outcome.as_ref().map(|_| ()).map_err(Clone::clone));
    }
    outcome.map(|_| ()).map_err(ActorError::from)
}

/// The snapshot used (its sequence number) and the events replayed after it.
async fn replay<A: PersistentActor>(
    actor: &mut A,
    ctx: &mut Context<A>,
    system: &crate::ActorSystem,
    pid: crate::Pid,
) -> Result<(Option<u64>, u64), PersistError> {
    let Some(st) = ctx.persistence.as_deref_mut() else {
        return Ok((None, 0));
    };
    let mut snapshot_used = None;
    let mut replayed = 0u64;
    st.seq = 0;
    st.since_snapshot = 0;
    let config = A::persist_config();
    let upcaster = A::upcaster();
    // The decode error of the first snapshot skipped, if any: recovery then needs every
    // event after the snapshot it starts from (or from the start).
    let mut skipped: Option<PersistError> = None;
    let mut criteria = SnapshotCriteria::latest();
    while config.snapshot_every.is_some()
        && let Some(snap) = st
            .store
            .snapshots
            .load(&st.id, criteria)
            .await
            .map_err(PersistError::from)?
    {
        match A::restore_state(&snap.payload) {
            None => break,
            Some(Ok(state)) => {
                *actor = state;
                st.seq = snap.sequence_nr;
                snapshot_used = Some(snap.sequence_nr);
                break;
            }
            Some(Err(e)) => {
                let error = PersistError::Decode {
                    persistence_id: st.id.clone(),
                    sequence_nr: snap.sequence_nr,
                    manifest: snap.manifest.clone(),
                    error: Arc::new(e),
                };
                if config.bad_snapshot == BadSnapshot::Fail {
                    return Err(error);
                }
                system
                    .events()
                    .publish(crate::SystemEvent::SnapshotSkipped {
                        pid,
                        sequence_nr: snap.sequence_nr,
                        error: error.to_string(),
                    });
                skipped.get_or_insert(error);
                let Some(below) = snap.sequence_nr.checked_sub(1) else {
                    break;
                };
                criteria = criteria.max_sequence_nr(below);
            }
        }
    }
    // The next page, read while this one is applied (a task of its own: the database
    // streams it meanwhile).
    let mut next: Option<Prefetch> = None;
    loop {
        let page = match next.take() {
            Some(prefetch) => prefetch.page().await?,
            None => st
                .store
                .journal
                .replay_payloads(
                    &st.id,
                    st.seq + 1,
                    u64::MAX,
                    REPLAY_PAGE,
                    upcaster.is_some(),
                )
                .await
                .map_err(PersistError::from)?,
        };
        if page.len() as u64 == REPLAY_PAGE
            && let Some(last) = page.last()
        {
            next = Some(Prefetch::start(
                &st.store.journal,
                &st.id,
                last.sequence_nr + 1,
                upcaster.is_some(),
            ));
            // A spawned task waits in this worker's next-task slot, where no other worker
            // steals it: let it send its query now.
            tokio::task::yield_now().await;
        }
        if page.is_empty() {
            // Deleted events leave the highest sequence number behind: continue after it.
            let highest = st
                .store
                .journal
                .highest_sequence_nr(&st.id)
                .await
                .map_err(PersistError::from)?;
            if highest <= st.seq {
                break;
            }
            let more = st
                .store
                .journal
                .replay(&st.id, st.seq + 1, highest, 1)
                .await
                .map_err(PersistError::from)?;
            if more.is_empty() {
                st.seq = highest;
                break;
            }
            continue;
        }
        for record in page {
            // Falling back needs the events after where it started: deleted ones leave a
            // gap, and the state would silently miss them.
            if record.sequence_nr != st.seq + 1
                && let Some(error) = skipped.take()
            {
                return Err(error);
            }
            let decoded = match (upcaster, &record.manifest) {
                (Some(upcast), Some(manifest)) => serde_json::from_str(&record.payload)
                    .and_then(|json| serde_json::from_value(upcast(manifest, json))),
                _ => serde_json::from_str(&record.payload),
            };
            let event: A::Event = match decoded {
                Ok(event) => event,
                Err(e) => {
                    // The manifest, for the error: read now unless it came with the page.
                    let manifest = match record.manifest {
                        Some(manifest) => manifest,
                        None => manifest_of(st, record.sequence_nr).await,
                    };
                    return Err(PersistError::Decode {
                        persistence_id: st.id.clone(),
                        sequence_nr: record.sequence_nr,
                        manifest,
                        error: Arc::new(e),
                    });
                }
            };
            actor.apply_event(event);
            st.seq = record.sequence_nr;
            st.since_snapshot += 1;
            replayed += 1;
        }
    }
    Ok((snapshot_used, replayed))
}

/// Settings from `#[persistent(...)]` on the struct, read by the `PersistentActor` impl that
/// `#[actor]` generates for an impl block with `#[event]` methods.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` has `#[event]` methods but is not marked `#[persistent]`",
    label = "`#[event]` needs a persistent actor",
    note = "write `#[persistent]` next to `#[actor]` on `struct {Self}`",
    note = "for a generic actor with `snapshot_every`: its state must be `Serialize` and `Deserialize` under the bounds of its `#[actor]` impl block (bound the type parameters the state holds)"
)]
pub trait PersistOptions: Sized {
    /// `snapshot_every` / `keep_snapshots`.
    fn config() -> PersistConfig;
    /// Serializes the state (only with `snapshot_every`).
    fn snapshot_state(&self) -> Option<Result<String, serde_json::Error>> {
        None
    }
    /// Deserializes the state (only with `snapshot_every`).
    fn restore_state(_payload: &str) -> Option<Result<Self, serde_json::Error>> {
        None
    }
    /// `upcast = path`.
    fn upcaster() -> Option<Upcaster> {
        None
    }
    /// `tag_with = path`.
    fn tags(_event: &<Self as PersistentActor>::Event) -> Vec<String>
    where
        Self: PersistentActor,
    {
        Vec::new()
    }
}

/// Turns a stored event written by an older version of an actor into the JSON of its
/// current `{Name}Event`, before it is decoded: given the event's manifest and JSON, it
/// returns the JSON to decode (Akka's event adapters, reading side). Set with
/// `#[persistent(upcast = my_upcaster)]`; it runs for every replayed event, so return
/// current events unchanged.
///
/// # Example
///
/// ```
/// use bactor::Upcaster;
/// use serde_json::{Value, json};
///
/// /// Version 1 stored `Deposited { cents }`; version 2 stores `Deposited { amount, note }`.
/// fn upcast(manifest: &str, event: Value) -> Value {
///     match (manifest, &event["Deposited"]["cents"]) {
///         ("Account::Deposited", Value::Number(cents)) => {
///             json!({ "Deposited": { "amount": cents.as_u64().unwrap_or(0) / 100, "note": "" } })
///         }
///         _ => event,
///     }
/// }
///
/// let upcaster: Upcaster = upcast;
/// let old = json!({ "Deposited": { "cents": 500 } });
/// assert_eq!(upcaster("Account::Deposited", old), json!({ "Deposited": { "amount": 5, "note": "" } }));
/// ```
pub type Upcaster = fn(&str, serde_json::Value) -> serde_json::Value;

/// The events of a generic persistent actor, as its `PersistentActor` impl requires
/// them: the bound names the fix rather than the serde trait a type parameter lacks.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "the events of this generic persistent actor, `{Self}`, cannot be stored",
    label = "its `#[event]` arguments must be `Serialize + DeserializeOwned + Send + 'static`",
    note = "bound the type parameters that `#[event]` arguments use in the `#[actor]` impl block: `T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static`"
)]
pub trait StorableEvent: Serialize + DeserializeOwned + Send + 'static {}

#[diagnostic::do_not_recommend]
impl<E: Serialize + DeserializeOwned + Send + 'static> StorableEvent for E {}

/// Checks that a persistent actor with snapshots can be serialized. `#[persistent]`
/// asserts it once, spanned on `snapshot_every`; the blanket impl is not recommended so
/// that the error names this trait (and its fix), not serde's. A generic actor's options
/// are implemented where `Self: Snapshottable` instead, which implies the serde traits
/// (hence the supertraits).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes snapshots (`snapshot_every`) but cannot be serialized",
    label = "its state must be `Serialize` and `Deserialize`",
    note = "derive `serde::Serialize` and `serde::Deserialize` on `{Self}`, or remove `snapshot_every`"
)]
pub trait Snapshottable: Serialize + DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> Snapshottable for T {}

/// Encodes and decodes snapshots of `T` where `T` is serializable, and does nothing
/// otherwise, without an error of its own: method resolution picks
/// [`SerdeSnapshot`] when `T: Serialize + DeserializeOwned` and falls back to
/// [`NoSnapshot`] (one more reference away) when not. The one error for a state that
/// cannot be serialized comes from the [`Snapshottable`] assertion.
#[doc(hidden)]
pub struct SnapshotCodec<T>(std::marker::PhantomData<fn() -> T>);

impl<T> SnapshotCodec<T> {
    #[doc(hidden)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        SnapshotCodec(std::marker::PhantomData)
    }
}

impl<T> fmt::Debug for SnapshotCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SnapshotCodec")
    }
}

/// Snapshots through serde: see [`SnapshotCodec`].
#[doc(hidden)]
pub trait SerdeSnapshot<T> {
    /// Serializes a state.
    fn encode(&self, state: &T) -> Option<Result<String, serde_json::Error>>;
    /// Deserializes a state.
    fn decode(&self, payload: &str) -> Option<Result<T, serde_json::Error>>;
}

impl<T: Serialize + DeserializeOwned> SerdeSnapshot<T> for SnapshotCodec<T> {
    fn encode(&self, state: &T) -> Option<Result<String, serde_json::Error>> {
        Some(serde_json::to_string(state))
    }
    fn decode(&self, payload: &str) -> Option<Result<T, serde_json::Error>> {
        Some(serde_json::from_str(payload))
    }
}

/// No snapshots (the state is not serializable; already reported): see [`SnapshotCodec`].
#[doc(hidden)]
pub trait NoSnapshot<T> {
    /// Nothing.
    fn encode(&self, state: &T) -> Option<Result<String, serde_json::Error>>;
    /// Nothing.
    fn decode(&self, payload: &str) -> Option<Result<T, serde_json::Error>>;
}

impl<T> NoSnapshot<T> for &SnapshotCodec<T> {
    fn encode(&self, _: &T) -> Option<Result<String, serde_json::Error>> {
        None
    }
    fn decode(&self, _: &str) -> Option<Result<T, serde_json::Error>> {
        None
    }
}
