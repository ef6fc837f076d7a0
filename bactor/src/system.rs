//! The actor system: spawning, the registry of live actors, names, and shutdown.
//!
//! An [`ActorSystem`] owns every actor spawned through it. Top-level actors have the
//! system's guardian as their parent; actors spawned with
//! [`Context::spawn_child`](crate::Context::spawn_child) have their spawner. Each actor runs
//! as one tokio task on the runtime that spawned it.
//!
//! [`ActorSystem::shutdown`] stops every top-level actor (each stops its children first)
//! and returns once every actor of the system has stopped.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::Pid;
use crate::actor::Actor;
use crate::actor_ref::{ActorRef, RefInner};
use crate::cell::{Cell, run};
use crate::context::Context;
use crate::error::{ActorError, LookupError, SpawnError, StopReason};
use crate::events::EventStream;
use crate::mailbox::{
    DEFAULT_THROUGHPUT, DeadLetters, MailboxConfig, PriorityMailbox, UserRx, UserTx, channel_lane,
    queue_lane,
};
use crate::props::{FnActor, Props};
use crate::supervision::SupervisorStrategy;

/// Messages of the system lane.
pub(crate) enum SystemMsg {
    /// Stop now (after the current message).
    Stop,
    /// The supervisor's decision about this actor.
    Decision(Decision),
    /// A child failed and waits for a decision.
    ChildFailed {
        child: Pid,
        /// `std::any::type_name` of the child.
        child_type: &'static str,
        error: Arc<ActorError>,
        message: Option<&'static str>,
    },
    /// A child has stopped.
    ChildTerminated { child: Pid, reason: StopReason },
    /// `watcher` wants a `Terminated` notice when this actor stops.
    Watch { watcher: Pid, sys: SysTx },
    /// `watcher` no longer wants the notice.
    Unwatch { watcher: Pid },
    /// A watched actor has stopped.
    Terminated { pid: Pid, reason: StopReason },
    /// Wakes the actor to run its `poked` hook (a router's management commands).
    Poke,
    /// A write of `persist_deferred` events ended: its result waits in the actor's
    /// persistence state.
    #[cfg(feature = "persist")]
    Persisted,
}

/// Where system messages for one actor go: its system lane, or (feature `remote`) the
/// control lane to the node it lives on.
#[derive(Clone)]
pub(crate) enum SysTx {
    Local(crate::syslane::SysSender),
    #[cfg(feature = "remote")]
    Remote(Arc<crate::remote::Target>),
}

impl SysTx {
    /// Sends `msg`; hands it back when the actor is gone (or, remote, when the message is
    /// not one that crosses nodes).
    pub(crate) fn send(&self, msg: SystemMsg) -> Result<(), SystemMsg> {
        match self {
            SysTx::Local(tx) => tx.send(msg).map_err(|e| e.0),
            #[cfg(feature = "remote")]
            SysTx::Remote(target) => target.system(msg),
        }
    }
}

/// What a supervisor tells a failed (or, for all-for-one, a sibling) child.
pub(crate) enum Decision {
    Resume,
    Restart {
        delay: Duration,
        cause: Arc<ActorError>,
    },
    Stop {
        cause: Option<Arc<ActorError>>,
    },
}

/// Who supervises an actor and is told when it stops.
pub(crate) enum Parent {
    Guardian,
    Actor {
        pid: Pid,
        sys: crate::syslane::SysSender,
    },
}

impl Parent {
    pub(crate) fn pid(&self) -> Option<Pid> {
        match self {
            Parent::Guardian => None,
            Parent::Actor { pid, .. } => Some(*pid),
        }
    }

    pub(crate) fn child_terminated(&self, child: Pid, reason: StopReason) {
        if let Parent::Actor { sys, .. } = self {
            // The parent may already be gone; then nobody waits for this.
            let _ = sys.send(SystemMsg::ChildTerminated { child, reason });
        }
    }
}

/// One live actor. Kept small: the registry has a slot per actor, and empty slots
/// besides (48 bytes, down from 88 with its type's name and remote entry point inline).
struct Entry {
    /// The actor's `Arc<RefInner<A::Msg>>`: typed lookups, its type's name, its system
    /// lane (no allocation of its own).
    typed: Arc<dyn Registered>,
    /// Registered under a name too (kept in `Registry::name_of`).
    named: bool,
    top_level: bool,
}

/// What the registry asks of an actor's shared ref state, whatever its message type.
pub(crate) trait Registered: Any + Send + Sync {
    /// `std::any::type_name` of the actor.
    fn type_name(&self) -> &'static str;
    /// Its system lane (registered actors are local: they always have one).
    fn system_lane(&self) -> Option<&crate::syslane::SysSender>;
    /// Ready once the actor has stopped.
    fn terminated(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
    /// Messages handled, failures and restarts, for introspection.
    fn counters(&self) -> (u32, u32, u32);
    /// Messages in its mailbox now.
    fn queued(&self) -> u64;
}

impl<M: Send + 'static> Registered for crate::actor_ref::RefInner<M> {
    fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    fn system_lane(&self) -> Option<&crate::syslane::SysSender> {
        match &self.sys {
            SysTx::Local(sys) => Some(sys),
            #[cfg(feature = "remote")]
            SysTx::Remote(_) => None,
        }
    }

    fn terminated(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(crate::actor_ref::RefInner::terminated(self))
    }

    fn counters(&self) -> (u32, u32, u32) {
        (
            self.handled.load(Ordering::Relaxed),
            u32::from(self.failures.load(Ordering::Relaxed)),
            u32::from(self.restarts.load(Ordering::Relaxed)),
        )
    }

    fn queued(&self) -> u64 {
        self.user.queued()
    }
}

/// Hashes actor ids (sequential numbers) with one multiplication: ids are not chosen by
/// anyone, so SipHash's protection against chosen keys buys nothing here, and every
/// message from another node looks its target up.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
        self.0 = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
struct Registry {
    actors: HashMap<u64, Entry, BuildHasherDefault<IdHasher>>,
    names: HashMap<String, u64>,
    /// The names of named actors, by id.
    name_of: HashMap<u64, String, BuildHasherDefault<IdHasher>>,
    /// How messages from other nodes reach the actors that have a remote stub (feature
    /// `remote`, `#[actor(remote)]`): beside the entries, which most actors need alone.
    #[cfg(feature = "remote")]
    hosted: HashMap<u64, Arc<dyn crate::remote::node::Hosted>, BuildHasherDefault<IdHasher>>,
    /// The parent of each child actor, by id (top-level actors have none: an entry only
    /// for children), for introspection.
    parents: HashMap<u64, u64, BuildHasherDefault<IdHasher>>,
    /// The last failure of each actor that failed, for introspection.
    last_failures: HashMap<u64, Arc<ActorError>, BuildHasherDefault<IdHasher>>,
}

impl Registry {
    /// Maps never shrink by themselves: after a million actors have come and gone, the
    /// registry would keep a million slots. Halved once under a quarter full, so a
    /// population that shrinks gives its memory back, and one that comes and goes around a
    /// size does not rehash on every stop.
    fn shrink_when_sparse(&mut self) {
        const FLOOR: usize = 1024;
        if self.actors.capacity() > FLOOR && self.actors.len() < self.actors.capacity() / 4 {
            self.actors.shrink_to(self.actors.len() * 2);
        }
        if self.names.capacity() > FLOOR && self.names.len() < self.names.capacity() / 4 {
            self.names.shrink_to(self.names.len() * 2);
            self.name_of.shrink_to(self.name_of.len() * 2);
        }
        #[cfg(feature = "remote")]
        if self.hosted.capacity() > FLOOR && self.hosted.len() < self.hosted.capacity() / 4 {
            self.hosted.shrink_to(self.hosted.len() * 2);
        }
        if self.parents.capacity() > FLOOR && self.parents.len() < self.parents.capacity() / 4 {
            self.parents.shrink_to(self.parents.len() * 2);
        }
        if self.last_failures.capacity() > FLOOR
            && self.last_failures.len() < self.last_failures.capacity() / 4
        {
            self.last_failures.shrink_to(self.last_failures.len() * 2);
        }
    }
}

struct SystemInner {
    node: u64,
    incarnation: u64,
    next_id: AtomicU64,
    registry: Mutex<Registry>,
    events: Arc<EventStream>,
    shutting_down: AtomicBool,
    all_stopped: Notify,
    mailbox: MailboxConfig,
    throughput: usize,
    guardian: SupervisorStrategy,
    shutdown_timeout: Duration,
    #[cfg(feature = "persist")]
    persistence: Option<crate::Persistence>,
    /// Middleware of every actor.
    receive: Vec<Arc<dyn crate::middleware::ReceiveMiddleware>>,
    send: Vec<Arc<dyn crate::middleware::SendMiddleware>>,
    /// The node this system is part of (feature `remote`).
    #[cfg(feature = "remote")]
    remote: std::sync::OnceLock<Arc<crate::remote::NodeShared>>,
    /// The handles of each actor type (feature `metrics`; `None` when off).
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::SystemMetrics>,
}

/// A set of actors with a shared registry, event stream and lifetime.
///
/// Cheap to clone (all clones are the same system).
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// #[actor]
/// #[derive(Default)]
/// struct Counter {
///     count: u64,
/// }
///
/// #[actor]
/// impl Counter {
///     #[handler]
///     fn add(&mut self, by: u64) -> u64 {
///         self.count += by;
///         self.count
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new();
/// let counter = system.spawn_named("counter", Counter::default).await?;
/// counter.add(2).await?;
/// let found: CounterRef = system.lookup::<Counter>("counter")?;
/// assert_eq!(found.add(1).await?, 3);
/// system.shutdown().await;
/// assert!(!counter.is_alive());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ActorSystem {
    inner: Arc<SystemInner>,
}

impl Default for ActorSystem {
    fn default() -> Self {
        ActorSystem::new()
    }
}

impl fmt::Debug for ActorSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorSystem")
            .field("node", &self.inner.node)
            .field("incarnation", &self.inner.incarnation)
            .field("actors", &self.registry().actors.len())
            .finish_non_exhaustive()
    }
}

/// Builds an [`ActorSystem`] with non-default settings.
///
/// # Example
///
/// ```
/// use bactor::{ActorSystem, MailboxConfig};
///
/// let system = ActorSystem::builder()
///     .node(3)
///     .mailbox(MailboxConfig::Unbounded)
///     .throughput(64)
///     .build();
/// assert_eq!(system.node(), 3);
/// ```
#[derive(Debug, Clone)]
pub struct ActorSystemBuilder {
    node: u64,
    incarnation: Option<u64>,
    mailbox: MailboxConfig,
    throughput: usize,
    guardian: SupervisorStrategy,
    shutdown_timeout: Duration,
    #[cfg(feature = "persist")]
    persistence: Option<crate::Persistence>,
    receive: crate::middleware::LayerList<dyn crate::middleware::ReceiveMiddleware>,
    send: crate::middleware::LayerList<dyn crate::middleware::SendMiddleware>,
    #[cfg(feature = "metrics")]
    metrics: Option<Duration>,
}

impl ActorSystemBuilder {
    /// Whether the system records [metrics](crate::metrics) (feature `metrics`; on by
    /// default). Off, no metric is recorded and nothing is timed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bactor::ActorSystem;
    ///
    /// // A system of hot actors kept out of the metrics.
    /// let quiet = ActorSystem::builder().metrics(false).build();
    /// // Gauges sampled every 100 ms instead of every second.
    /// let watched = ActorSystem::builder().metrics_interval(Duration::from_millis(100)).build();
    /// # drop((quiet, watched));
    /// ```
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, on: bool) -> Self {
        self.metrics = on.then_some(self.metrics.unwrap_or(Duration::from_secs(1)));
        self
    }

    /// How often the gauges (`bactor_actors`, `bactor_mailbox_depth`,
    /// `bactor_mailbox_depth_max`) are sampled (feature `metrics`; default 1 s). Turns
    /// metrics on.
    #[cfg(feature = "metrics")]
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics = Some(interval.max(Duration::from_millis(1)));
        self
    }

    /// Adds a layer around every handler invocation of every actor of the system
    /// (outside the actors' own layers). See [`middleware`](crate::middleware).
    pub fn receive_middleware(mut self, layer: impl crate::middleware::ReceiveMiddleware) -> Self {
        self.receive.0.push(Arc::new(layer));
        self
    }

    /// Adds a layer around every send to every actor of the system. See
    /// [`middleware`](crate::middleware).
    pub fn send_middleware(mut self, layer: impl crate::middleware::SendMiddleware) -> Self {
        self.send.0.push(Arc::new(layer));
        self
    }

    /// The node id put in every pid (default `0`).
    pub fn node(mut self, node: u64) -> Self {
        self.node = node;
        self
    }

    /// The incarnation put in every pid (default: a fresh random number). A node sets
    /// its endpoint's, so that pids and the handshake agree.
    #[cfg(feature = "remote")]
    pub(crate) fn incarnation(mut self, incarnation: u64) -> Self {
        self.incarnation = Some(incarnation);
        self
    }

    /// The mailbox of actors whose type and props do not choose one
    /// (default: bounded, [`MailboxConfig::DEFAULT_CAPACITY`]).
    pub fn mailbox(mut self, mailbox: MailboxConfig) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// Messages per turn for actors whose type and props do not choose (default 300).
    /// Values below 1 count as 1.
    pub fn throughput(mut self, throughput: usize) -> Self {
        self.throughput = throughput.max(1);
        self
    }

    /// How long [`ActorSystem::shutdown`] waits for actors to stop (10 s by default): see
    /// [`ActorSystem::shutdown_within`].
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How the guardian supervises top-level actors (default:
    /// [`SupervisorStrategy::default`]). All-for-one acts as one-for-one here: top-level
    /// actors are not siblings. The guardian has no parent, so Escalate means Restart.
    pub fn guardian_strategy(mut self, strategy: SupervisorStrategy) -> Self {
        self.guardian = strategy;
        self
    }

    /// The event store of persistent actors (feature `persist`): a
    /// [`SqliteStore`](crate::persist::SqliteStore), a `PostgresStore` (feature
    /// `postgres`), a [`MemoryStore`](crate::persist::MemoryStore), or any
    /// `Journal + SnapshotStore`.
    #[cfg(feature = "persist")]
    pub fn persistence<S>(mut self, store: S) -> Self
    where
        S: crate::persist::Journal + crate::persist::SnapshotStore + Clone,
    {
        self.persistence = Some(crate::Persistence::new(store));
        self
    }

    /// A journal and snapshot store set up separately (feature `persist`).
    #[cfg(feature = "persist")]
    pub fn persistence_split(mut self, persistence: crate::Persistence) -> Self {
        self.persistence = Some(persistence);
        self
    }

    /// Builds the system. Actors run on the tokio runtime that spawns them.
    pub fn build(self) -> ActorSystem {
        #[cfg(feature = "metrics")]
        let events = EventStream::new(self.metrics.is_some());
        #[cfg(not(feature = "metrics"))]
        let events = EventStream::new(false);
        ActorSystem {
            inner: Arc::new(SystemInner {
                node: self.node,
                incarnation: self.incarnation.unwrap_or_else(fresh_incarnation),
                next_id: AtomicU64::new(1),
                registry: Mutex::new(Registry::default()),
                events,
                shutting_down: AtomicBool::new(false),
                all_stopped: Notify::new(),
                mailbox: self.mailbox,
                throughput: self.throughput,
                guardian: self.guardian,
                shutdown_timeout: self.shutdown_timeout,
                #[cfg(feature = "persist")]
                persistence: self.persistence,
                receive: self.receive.0,
                send: self.send.0,
                #[cfg(feature = "remote")]
                remote: std::sync::OnceLock::new(),
                #[cfg(feature = "metrics")]
                metrics: self.metrics.map(crate::metrics::SystemMetrics::new),
            }),
        }
    }
}

/// A number that differs between two runs of the same program.
fn fresh_incarnation() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // RandomState is seeded from the OS; hashing the time and pid adds uniqueness.
    RandomState::new().hash_one((now, std::process::id())) >> 1
}

impl ActorSystem {
    /// A system with default settings.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for a system with other settings.
    pub fn builder() -> ActorSystemBuilder {
        ActorSystemBuilder {
            node: 0,
            incarnation: None,
            mailbox: MailboxConfig::default(),
            throughput: DEFAULT_THROUGHPUT,
            guardian: SupervisorStrategy::default(),
            shutdown_timeout: Duration::from_secs(10),
            #[cfg(feature = "persist")]
            persistence: None,
            receive: Default::default(),
            send: Default::default(),
            #[cfg(feature = "metrics")]
            metrics: Some(Duration::from_secs(1)),
        }
    }

    /// The node id of this system.
    pub fn node(&self) -> u64 {
        self.inner.node
    }

    /// The incarnation put in every pid of this system.
    pub fn incarnation(&self) -> u64 {
        self.inner.incarnation
    }

    /// The system's event stream: lifecycle events and dead letters.
    pub fn events(&self) -> &EventStream {
        &self.inner.events
    }

    /// The number of live actors.
    pub fn actor_count(&self) -> usize {
        self.registry().actors.len()
    }

    /// Spawns a top-level actor. `producer` makes the actor's state; it runs again for every
    /// supervised restart.
    pub async fn spawn<A: Actor>(
        &self,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<A::Ref, SpawnError> {
        self.spawn_props(Props::from_producer(producer)).await
    }

    /// Spawns a top-level actor made by `make` from `args`, passed once (each start and
    /// restart gets a clone): see [`Props::from_args`].
    pub async fn spawn_with<A: Actor, T>(
        &self,
        args: T,
        make: impl Fn(T) -> A + Send + Sync + 'static,
    ) -> Result<A::Ref, SpawnError>
    where
        T: Clone + Send + Sync + 'static,
    {
        self.spawn_props(Props::from_args(args, make)).await
    }

    /// Spawns a top-level actor from its initial state (each restart starts from a clone
    /// of it): see [`Props::from_value`].
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Clone)]
    /// struct Counter { count: u64 }
    ///
    /// #[actor]
    /// impl Counter {
    ///     #[handler]
    ///     fn add(&mut self, by: u64) -> u64 { self.count += by; self.count }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let counter = system.spawn_value(Counter { count: 10 }).await?;
    /// assert_eq!(counter.add(1).await?, 11);
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub async fn spawn_value<A: Actor + Clone + Sync>(
        &self,
        actor: A,
    ) -> Result<A::Ref, SpawnError> {
        self.spawn_props(Props::from_value(actor)).await
    }

    /// Spawns a top-level actor under a name; fails with [`SpawnError::NameTaken`] while
    /// another live actor has it.
    pub async fn spawn_named<A: Actor>(
        &self,
        name: impl Into<String>,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<A::Ref, SpawnError> {
        self.spawn_props(Props::from_producer(producer).name(name))
            .await
    }

    /// Spawns a top-level actor from [`Props`].
    pub async fn spawn_props<A: Actor>(&self, props: Props<A>) -> Result<A::Ref, SpawnError> {
        let (r, _) = self.spawn_with_parent(props, Parent::Guardian)?;
        Ok(r.typed())
    }

    /// Spawns a top-level actor and waits until it has started: `Ok` once `pre_start` has
    /// run (and, for a persistent actor, recovery), before its first message; or the error
    /// its start failed with, after stopping the actor, instead of a ref to an actor that
    /// its supervisor restarts. [`spawn`](Self::spawn) returns at once, before any of it.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Db { up: bool }
    ///
    /// #[actor]
    /// impl Db {
    ///     async fn pre_start(&mut self) -> Result<(), ActorError> {
    ///         if self.up { Ok(()) } else { Err(ActorError::msg("cannot reach the database")) }
    ///     }
    ///
    ///     #[handler]
    ///     fn ping(&self) -> bool { self.up }
    /// }
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let db = system.spawn_started(|| Db { up: true }).await.unwrap();
    /// assert_eq!(db.ping().await, Ok(true)); // started: pre_start has run
    ///
    /// match system.spawn_started(Db::default).await {
    ///     Err(StartError::Failed(e)) => assert!(e.to_string().contains("cannot reach")),
    ///     other => panic!("{other:?}"),
    /// }
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub async fn spawn_started<A: Actor>(
        &self,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<A::Ref, crate::StartError> {
        self.spawn_props_started(Props::from_producer(producer))
            .await
    }

    /// [`spawn_started`](Self::spawn_started) from [`Props`].
    pub async fn spawn_props_started<A: Actor>(
        &self,
        props: Props<A>,
    ) -> Result<A::Ref, crate::StartError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (actor, _) = self
            .spawn_notifying(props, Parent::Guardian, Some(tx))
            .map_err(crate::StartError::Spawn)?;
        let failed = match rx.await {
            Ok(Ok(())) => return Ok(actor.typed()),
            Ok(Err(e)) => crate::StartError::Failed(e),
            // Gone before its first start finished (stopped meanwhile).
            Err(_) => crate::StartError::Stopped,
        };
        actor.stop();
        actor.stopped().await;
        Err(failed)
    }

    /// Spawns an actor from a closure that handles each message (the "lambda" pattern).
    /// The closure's future must own what it uses; see [`Props::from_fn`].
    pub async fn spawn_fn<M, F, Fut>(
        &self,
        handler: F,
    ) -> Result<ActorRef<FnActor<M, F>>, SpawnError>
    where
        M: Send + 'static,
        F: FnMut(M) -> Fut + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.spawn_props(Props::from_fn(handler)).await
    }

    /// Spawns a top-level persistent actor under `persistence_id` (feature `persist`). It
    /// recovers its state from the system's event store before its first message.
    #[cfg(feature = "persist")]
    pub async fn spawn_persistent<A: crate::PersistentActor>(
        &self,
        persistence_id: impl Into<String>,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<A::Ref, SpawnError> {
        self.spawn_props(Props::from_producer(producer).persistence_id(persistence_id))
            .await
    }

    /// Spawns a top-level persistent actor and waits until it has recovered (feature
    /// `persist`): `Ok` once its state is rebuilt from the store, before its first message;
    /// or the typed error of a failed recovery (which journal, which sequence number, what
    /// failed), after stopping the actor, instead of a ref to an actor that keeps
    /// restarting. The wait is bounded by the store's own timeouts.
    ///
    /// # Example
    ///
    /// ```
    /// # #[cfg(feature = "persist")] mod demo {
    /// use bactor::persist::MemoryStore;
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[persistent]
    /// #[derive(Default)]
    /// pub struct Tally {
    ///     total: u64,
    /// }
    ///
    /// #[actor]
    /// impl Tally {
    ///     #[handler]
    ///     fn total(&self) -> u64 {
    ///         self.total
    ///     }
    ///
    ///     #[event]
    ///     fn added(&mut self, n: u64) {
    ///         self.total += n;
    ///     }
    /// }
    ///
    /// pub async fn run() {
    ///     let system = ActorSystem::builder().persistence(MemoryStore::new()).build();
    ///     let tally = system.spawn_recovered("tally", Tally::default).await.unwrap();
    ///     assert_eq!(tally.total().await, Ok(0));
    ///     system.shutdown().await;
    /// }
    /// # }
    /// # #[cfg(feature = "persist")]
    /// # #[tokio::main] async fn main() { demo::run().await }
    /// # #[cfg(not(feature = "persist"))]
    /// # fn main() {}
    /// ```
    #[cfg(feature = "persist")]
    pub async fn spawn_recovered<A: crate::PersistentActor>(
        &self,
        persistence_id: impl Into<String>,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<A::Ref, crate::RecoveryError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut props = Props::from_producer(producer).persistence_id(persistence_id);
        props.on_recovered = Some(Arc::new(Mutex::new(Some(tx))));
        let (actor, _) = self
            .spawn_with_parent(props, Parent::Guardian)
            .map_err(crate::RecoveryError::Spawn)?;
        let failed = match rx.await {
            Ok(Ok(())) => return Ok(actor.typed()),
            Ok(Err(e)) => crate::RecoveryError::Failed(e),
            // Gone before any recovery finished (it failed to start and was stopped).
            Err(_) => crate::RecoveryError::Stopped,
        };
        actor.stop();
        actor.stopped().await;
        Err(failed)
    }

    /// The live actors of this system, oldest first, each with its place in the tree
    /// (parent, children) and its counters. Made from the registry and counters the
    /// actors keep anyway: nothing is measured on the message path beyond one counter.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Team;
    ///
    /// #[actor]
    /// impl Team {
    ///     async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
    ///         ctx.spawn_child_props(Props::from_producer(Member::default).name("sub-team")).await?;
    ///         Ok(())
    ///     }
    ///
    ///     #[handler]
    ///     fn ping(&self) {}
    /// }
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Member;
    ///
    /// #[actor]
    /// impl Member {}
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let team = system.spawn_started(Team::default).await?;
    /// team.ping().await?;
    /// let actors = system.actors();
    /// let top = actors.iter().find(|a| a.pid == team.pid()).unwrap();
    /// assert_eq!((top.parent, top.children.len(), top.handled), (None, 1, 1));
    /// let sub = actors.iter().find(|a| a.name.as_deref() == Some("sub-team")).unwrap();
    /// assert_eq!(sub.parent, Some(team.pid()));
    /// print!("{}", bactor::ActorInfo::render_tree(&actors));
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn actors(&self) -> Vec<crate::ActorInfo> {
        self.oldest_actors(usize::MAX).0
    }

    /// The `max` oldest live actors (the lowest ids: a parent is older than its children,
    /// so every listed child's parent is listed), as [`actors`](Self::actors) reports
    /// them, and how many actors are live. For views of large systems: only the listed
    /// actors' details are copied.
    #[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
    pub(crate) fn oldest_actors(&self, max: usize) -> (Vec<crate::ActorInfo>, usize) {
        let reg = self.registry();
        let total = reg.actors.len();
        let cutoff = if max < total {
            let mut ids: Vec<u64> = reg.actors.keys().copied().collect();
            let (_, nth, _) = ids.select_nth_unstable(max);
            *nth
        } else {
            u64::MAX
        };
        let mut out: Vec<crate::ActorInfo> = reg
            .actors
            .iter()
            .filter(|(id, _)| **id < cutoff)
            .map(|(id, e)| {
                let (handled, failures, restarts) = e.typed.counters();
                crate::ActorInfo {
                    pid: self.pid(*id),
                    type_name: e.typed.type_name(),
                    name: reg.name_of.get(id).cloned(),
                    parent: reg.parents.get(id).map(|p| self.pid(*p)),
                    children: Vec::new(),
                    mailbox: e.typed.queued(),
                    handled,
                    failures,
                    restarts,
                    last_failure: reg.last_failures.get(id).map(|e| e.to_string()),
                }
            })
            .collect();
        drop(reg);
        out.sort_unstable_by_key(|a| a.pid.id());
        let index: HashMap<u64, usize> = out
            .iter()
            .enumerate()
            .map(|(i, a)| (a.pid.id(), i))
            .collect();
        for i in 0..out.len() {
            if let Some(parent) = out[i].parent
                && let Some(&p) = index.get(&parent.id())
            {
                let child = out[i].pid;
                out[p].children.push(child);
            }
        }
        (out, total)
    }

    /// Keeps `error` as the actor's last failure, for introspection (a failure is rare:
    /// the registry lock is fine).
    pub(crate) fn note_failure(&self, pid: Pid, error: &Arc<ActorError>) {
        let mut reg = self.registry();
        if reg.actors.contains_key(&pid.id()) {
            reg.last_failures.insert(pid.id(), Arc::clone(error));
        }
    }

    /// Finds a live actor by name.
    pub fn lookup<A: Actor>(&self, name: &str) -> Result<A::Ref, LookupError> {
        let reg = self.registry();
        let entry = reg
            .names
            .get(name)
            .and_then(|id| reg.actors.get(id))
            .ok_or_else(|| LookupError::NotFound(name.to_owned()))?;
        typed_ref::<A>(entry, name).map(|r| r.typed())
    }

    /// Finds a live actor by pid.
    pub fn resolve<A: Actor>(&self, pid: Pid) -> Result<A::Ref, LookupError> {
        self.resolve_raw::<A>(pid).map(|r| r.typed())
    }

    pub(crate) fn resolve_raw<A: Actor>(&self, pid: Pid) -> Result<ActorRef<A>, LookupError> {
        let reg = self.registry();
        let entry = reg
            .actors
            .get(&pid.id())
            .filter(|_| {
                pid.node() == self.inner.node && pid.incarnation() == self.inner.incarnation
            })
            .ok_or_else(|| LookupError::NotFound(pid.to_string()))?;
        typed_ref::<A>(entry, &pid.to_string())
    }

    /// Runs `f` with this system as the one that deserialized actor refs resolve in
    /// (feature `serde`): refs travel as their pid and come back as live refs.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// struct Echo;
    ///
    /// #[actor]
    /// impl Echo {
    ///     #[handler]
    ///     fn echo(&self, s: String) -> String {
    ///         s
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let echo = system.spawn(|| Echo).await.unwrap();
    /// let json = serde_json::to_string(&echo).unwrap();
    /// let back: EchoRef = system.with_deserialization(|| serde_json::from_str(&json)).unwrap();
    /// assert_eq!(back.echo("hi".into()).await.unwrap(), "hi");
    /// # system.shutdown().await;
    /// # }
    /// ```
    #[cfg(feature = "serde")]
    pub fn with_deserialization<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = DESERIALIZING.with(|c| c.replace(Some(self.clone())));
        let out = f();
        DESERIALIZING.with(|c| c.replace(previous));
        out
    }

    #[cfg(feature = "serde")]
    pub(crate) fn events_arc(&self) -> &Arc<EventStream> {
        &self.inner.events
    }

    /// The metric handles of the actor type `actor` (`None` when this system's metrics
    /// are off).
    #[cfg(all(feature = "metrics", feature = "remote"))]
    pub(crate) fn type_metrics(
        &self,
        actor: &'static str,
    ) -> Option<Arc<crate::metrics::TypeMetrics>> {
        self.inner.metrics.as_ref().map(|m| m.of(actor))
    }

    /// The pid of the live actor with this name.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        let reg = self.registry();
        reg.names.get(name).map(|&id| self.pid(id))
    }

    /// Stops every actor and waits until all have stopped, or until the system's shutdown
    /// timeout ([`ActorSystemBuilder::shutdown_timeout`], 10 s by default) has passed:
    /// [`shutdown_within`](Self::shutdown_within) with it, whose order and timeout rules
    /// apply. Spawning fails with [`SpawnError::ShuttingDown`] from the moment this is
    /// called.
    pub async fn shutdown(&self) {
        let _ = self.shutdown_within(self.inner.shutdown_timeout).await;
    }

    /// Stops every actor, in reverse order of spawning, within `timeout`.
    ///
    /// **Order.** Top-level actors are stopped one at a time, the most recently spawned
    /// first, each after the previous one has stopped; each stops its children (the same
    /// way, newest first) before itself. An actor spawned after the services it uses (a
    /// supervisor of workers that call a database actor) is stopped, and its queue left,
    /// before them. A stop overtakes the actor's queued messages (they become dead
    /// letters); the handler running when it arrives finishes first.
    ///
    /// **Timeout.** A handler stuck in an await cannot be interrupted from outside. When
    /// `timeout` passes, every actor not yet told is told to stop at once, and this
    /// returns [`ShutdownTimedOut`](crate::ShutdownTimedOut) naming the actors running at
    /// that moment (the stuck ones, and those just told, which stop right after): each
    /// stops as soon as its current handler returns; a handler that never returns keeps
    /// its task until the runtime ends. Spawning fails with
    /// [`SpawnError::ShuttingDown`] from the moment this is called.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    /// use std::time::Duration;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Stuck;
    ///
    /// #[actor]
    /// impl Stuck {
    ///     #[handler]
    ///     async fn wait_forever(&mut self, started: tokio::sync::oneshot::Sender<()>) {
    ///         let _ = started.send(());
    ///         std::future::pending::<()>().await;
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let stuck = system.spawn(Stuck::default).await.unwrap();
    /// let (started, running) = tokio::sync::oneshot::channel();
    /// stuck.wait_forever(started).tell().await.unwrap();
    /// running.await.unwrap(); // its handler is stuck now
    /// let err = system.shutdown_within(Duration::from_millis(100)).await.unwrap_err();
    /// assert_eq!(err.still_running[0].0, stuck.pid());
    /// # }
    /// ```
    pub async fn shutdown_within(&self, timeout: Duration) -> Result<(), crate::ShutdownTimedOut> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut tops: Vec<(u64, Arc<dyn Registered>)> = {
            let reg = self.registry();
            self.inner.shutting_down.store(true, Ordering::SeqCst);
            reg.actors
                .iter()
                .filter(|(_, e)| e.top_level)
                .map(|(id, e)| (*id, Arc::clone(&e.typed)))
                .collect()
        };
        // Newest first: ids grow with every spawn.
        tops.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
        let mut told = 0;
        for (_, top) in &tops {
            let Some(sys) = top.system_lane() else {
                told += 1;
                continue;
            };
            // An error means that actor already stopped.
            let _ = sys.send(SystemMsg::Stop);
            told += 1;
            if tokio::time::timeout_at(deadline, top.terminated())
                .await
                .is_err()
            {
                break;
            }
        }
        // Out of time: the rest are told at once.
        for (_, top) in &tops[told..] {
            if let Some(sys) = top.system_lane() {
                let _ = sys.send(SystemMsg::Stop);
            }
        }
        let all_stopped = async {
            loop {
                let notified = self.inner.all_stopped.notified();
                if self.registry().actors.is_empty() {
                    return;
                }
                notified.await;
            }
        };
        if tokio::time::timeout_at(deadline, all_stopped).await.is_ok() {
            return Ok(());
        }
        let mut still_running: Vec<(Pid, &'static str)> = self
            .registry()
            .actors
            .iter()
            .map(|(id, e)| (self.pid(*id), e.typed.type_name()))
            .collect();
        still_running.sort_unstable_by_key(|(pid, _)| pid.id());
        Err(crate::ShutdownTimedOut {
            timeout,
            still_running,
        })
    }

    /// `true` once [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock cannot leave the maps half-updated (every update is
        // one insert or remove), so a poisoned lock is still usable.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn pid(&self, id: u64) -> Pid {
        Pid::new(self.inner.node, id, self.inner.incarnation)
    }

    /// The user lane of a new actor. The props' choice comes first, then the type's, then
    /// the system's: a custom [`Mailbox`](crate::Mailbox), else the priority kind for an
    /// actor with prioritized handlers, else a channel.
    /// `None` for the receiver of a channel: it is made from the ref state, which holds
    /// the channel's hand-off ([`UserRx::channel`]).
    fn user_lane<A: Actor>(
        &self,
        props: &Props<A>,
        pid: Pid,
    ) -> (UserTx<A::Msg>, Option<UserRx<A::Msg>>) {
        let custom = match (&props.make_mailbox, props.mailbox) {
            (Some(make), _) => Some(make()),
            (None, Some(_)) => None,
            (None, None) => A::custom_mailbox(),
        };
        let config = props
            .mailbox
            .or_else(A::mailbox)
            .unwrap_or(self.inner.mailbox);
        let queue = match custom {
            Some(queue) => queue,
            None if A::has_priorities() => Box::new(PriorityMailbox::new(config)),
            None => return (channel_lane(config), None),
        };
        let dead = DeadLetters {
            events: Arc::clone(&self.inner.events),
            pid,
            name_of: A::message_name,
        };
        let (tx, rx) = queue_lane(queue, A::message_priority, dead);
        (tx, Some(rx))
    }

    /// Registers and starts an actor. Returns its raw ref and its system-lane sender.
    pub(crate) fn spawn_with_parent<A: Actor>(
        &self,
        props: Props<A>,
        parent: Parent,
    ) -> Result<(ActorRef<A>, crate::syslane::SysSender), SpawnError> {
        self.spawn_notifying(props, parent, None)
    }

    /// [`spawn_with_parent`](Self::spawn_with_parent), telling `on_started` how the first
    /// start went.
    pub(crate) fn spawn_notifying<A: Actor>(
        &self,
        props: Props<A>,
        parent: Parent,
        on_started: Option<crate::cell::StartNotice>,
    ) -> Result<(ActorRef<A>, crate::syslane::SysSender), SpawnError> {
        let throughput = props
            .throughput
            .or_else(A::throughput)
            .unwrap_or(self.inner.throughput)
            .max(1);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let pid = self.pid(id);
        let (user_tx, user_rx) = self.user_lane(&props, pid);
        let (sys_tx, sys_rx) = crate::syslane::sys_lane();
        let mut inner = RefInner::new(
            pid,
            user_tx,
            SysTx::Local(sys_tx.clone()),
            Arc::clone(&self.inner.events),
            A::message_name,
            std::any::type_name::<A>,
        );
        inner.send_layers = crate::middleware::combine(&self.inner.send, &props.send);
        #[cfg(feature = "metrics")]
        if let Some(metrics) = &self.inner.metrics {
            inner.metrics = Some(metrics.of(std::any::type_name::<A>()));
            let system = Arc::downgrade(&self.inner);
            metrics.start_sampler(move || {
                let system = ActorSystem {
                    inner: system.upgrade()?,
                };
                if system.is_shutting_down() {
                    return None;
                }
                let reg = system.registry();
                Some(
                    reg.actors
                        .values()
                        .map(|e| (e.typed.type_name(), e.typed.queued()))
                        .collect(),
                )
            });
        }
        let inner = Arc::new(inner);
        let user_rx = user_rx.unwrap_or_else(|| UserRx::channel(Arc::clone(&inner)));
        let actor_ref = ActorRef::<A>::from_inner(inner);
        {
            let mut reg = self.registry();
            if self.inner.shutting_down.load(Ordering::SeqCst) {
                return Err(SpawnError::ShuttingDown);
            }
            if let Some(name) = &props.name {
                if reg.names.contains_key(name) {
                    return Err(SpawnError::NameTaken(name.clone()));
                }
                reg.names.insert(name.clone(), id);
            }
            if let Some(name) = &props.name {
                reg.name_of.insert(id, name.clone());
            }
            if let Some(p) = parent.pid() {
                reg.parents.insert(id, p.id());
            }
            reg.actors.insert(
                id,
                Entry {
                    typed: Arc::clone(&actor_ref.inner) as Arc<dyn Registered>,
                    named: props.name.is_some(),
                    top_level: matches!(parent, Parent::Guardian),
                },
            );
            #[cfg(feature = "remote")]
            if let Some(hosted) = crate::remote::node::hosted(&actor_ref) {
                reg.hosted.insert(id, hosted);
            }
        }
        let strategy = props.supervisor.or_else(A::supervisor_strategy);
        let mut ctx = Context::new(
            actor_ref.clone(),
            self.clone(),
            sys_tx.clone(),
            parent,
            strategy,
        );
        #[cfg(feature = "persist")]
        if let Some(id) = props.persistence_id.clone() {
            let Some(store) = self.inner.persistence.clone() else {
                self.unregister(pid);
                return Err(SpawnError::NoEventStore);
            };
            let mut state = crate::persistence::PersistState::new(id, store);
            state.on_recovered = props.on_recovered.clone();
            ctx.persistence = Some(Box::new(state));
        }
        ctx.throughput = u32::try_from(throughput).unwrap_or(u32::MAX);
        let mut cell = Cell::new(props.producer, ctx, user_rx, sys_rx);
        if let Some(notice) = on_started {
            cell.notify_started(notice);
        }
        cell.receive =
            crate::middleware::combine(&self.inner.receive, &props.receive).map(|layers| {
                let timed = layers.iter().any(|l| l.timed());
                Box::new((layers, timed))
            });
        tokio::spawn(run(cell));
        Ok((actor_ref, sys_tx))
    }

    /// Removes a stopped actor from the registry (and its name).
    pub(crate) fn unregister(&self, pid: Pid) {
        let empty = {
            let mut reg = self.registry();
            if let Some(entry) = reg.actors.remove(&pid.id())
                && entry.named
                && let Some(name) = reg.name_of.remove(&pid.id())
            {
                reg.names.remove(&name);
            }
            #[cfg(feature = "remote")]
            reg.hosted.remove(&pid.id());
            reg.parents.remove(&pid.id());
            reg.last_failures.remove(&pid.id());
            reg.shrink_when_sparse();
            reg.actors.is_empty()
        };
        if empty {
            self.inner.all_stopped.notify_waiters();
        }
    }

    pub(crate) fn guardian_strategy(&self) -> &SupervisorStrategy {
        &self.inner.guardian
    }
}

/// What the remote layer needs of a system (feature `remote`).
#[cfg(feature = "remote")]
impl ActorSystem {
    /// The node this system belongs to, if any.
    pub(crate) fn node_shared(&self) -> Option<&Arc<crate::remote::NodeShared>> {
        self.inner.remote.get()
    }

    pub(crate) fn attach_node(&self, node: Arc<crate::remote::NodeShared>) {
        let _ = self.inner.remote.set(node);
    }

    pub(crate) fn downgrade(&self) -> WeakSystem {
        WeakSystem(Arc::downgrade(&self.inner))
    }

    fn local_entry<T>(&self, pid: Pid, f: impl FnOnce(&Entry) -> Option<T>) -> Option<T> {
        if pid.node() != self.inner.node || pid.incarnation() != self.inner.incarnation {
            return None;
        }
        let reg = self.registry();
        reg.actors.get(&pid.id()).and_then(f)
    }

    /// The remote entry point of the live local actor with this pid.
    pub(crate) fn hosted(&self, pid: Pid) -> Option<Arc<dyn crate::remote::node::Hosted>> {
        if pid.node() != self.inner.node || pid.incarnation() != self.inner.incarnation {
            return None;
        }
        self.registry().hosted.get(&pid.id()).cloned()
    }

    /// The system lane of the live local actor with this pid.
    pub(crate) fn system_lane(&self, pid: Pid) -> Option<crate::syslane::SysSender> {
        self.local_entry(pid, |e| e.typed.system_lane().cloned())
    }

    /// The pid and remote entry point of the live actor with this name.
    pub(crate) fn hosted_named(
        &self,
        name: &str,
    ) -> Option<(Pid, Option<Arc<dyn crate::remote::node::Hosted>>)> {
        let reg = self.registry();
        let id = *reg.names.get(name)?;
        reg.actors.get(&id)?;
        Some((self.pid(id), reg.hosted.get(&id).cloned()))
    }

    /// Spawns a top-level actor now (for a spawn asked by another node).
    pub(crate) fn spawn_now<A: Actor>(&self, props: Props<A>) -> Result<Pid, SpawnError> {
        self.spawn_with_parent(props, Parent::Guardian)
            .map(|(r, _)| r.pid())
    }
}

/// A system that may be gone (feature `remote`): what a node holds of its own system.
#[cfg(feature = "remote")]
#[derive(Clone)]
pub(crate) struct WeakSystem(std::sync::Weak<SystemInner>);

#[cfg(feature = "remote")]
impl WeakSystem {
    pub(crate) fn upgrade(&self) -> Option<ActorSystem> {
        self.0.upgrade().map(|inner| ActorSystem { inner })
    }
}

#[cfg(feature = "serde")]
thread_local! {
    static DESERIALIZING: std::cell::RefCell<Option<ActorSystem>> = const { std::cell::RefCell::new(None) };
}

/// The system set by [`ActorSystem::with_deserialization`] on this thread.
#[cfg(feature = "serde")]
pub(crate) fn deserialization_system() -> Option<ActorSystem> {
    DESERIALIZING.with(|c| c.borrow().clone())
}

fn typed_ref<A: Actor>(entry: &Entry, key: &str) -> Result<ActorRef<A>, LookupError> {
    let found = entry.typed.type_name();
    let wrong = || LookupError::WrongType {
        name: key.to_owned(),
        expected: std::any::type_name::<A>(),
        found,
    };
    // The type's name tells actors apart; the downcast, their message types.
    if found != std::any::type_name::<A>() {
        return Err(wrong());
    }
    (Arc::clone(&entry.typed) as Arc<dyn Any + Send + Sync>)
        .downcast::<crate::actor_ref::RefInner<A::Msg>>()
        .map(ActorRef::from_inner)
        .map_err(|_| wrong())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[crate::actor(crate = crate)]
    #[derive(Default)]
    struct Idle;

    #[crate::actor(crate = crate)]
    impl Idle {
        #[handler]
        fn noop(&self) {}
    }

    fn capacity(system: &ActorSystem) -> usize {
        system.registry().actors.capacity()
    }

    /// The registry gives its memory back once the actors that filled it are gone.
    #[tokio::test]
    async fn the_registry_shrinks_after_a_mass_stop() {
        let system = ActorSystem::new();
        let mut refs = Vec::new();
        for _ in 0..50_000 {
            refs.push(system.spawn(Idle::default).await.unwrap());
        }
        let full = capacity(&system);
        assert!(full >= 50_000, "{full}");
        for r in &refs {
            r.stop();
        }
        for r in &refs {
            r.stopped().await;
        }
        drop(refs);
        let after = capacity(&system);
        assert!(
            after <= 2048,
            "still {after} slots for no actor (was {full})"
        );
        // And it grows again as needed.
        let again: Vec<_> = futures_spawn(&system, 3_000).await;
        assert_eq!(system.registry().actors.len(), 3_000);
        drop(again);
        system.shutdown().await;
    }

    async fn futures_spawn(system: &ActorSystem, n: usize) -> Vec<IdleRef> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(system.spawn(Idle::default).await.unwrap());
        }
        v
    }
}
