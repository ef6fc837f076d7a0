//! The actor's view of the runtime while it handles a message.
//!
//! A [`Context`] is handed to every handler that asks for one (`ctx: &mut Context<Self>`)
//! and to the lifecycle hooks. Through it an actor reaches its own ref, spawns children
//! (stopped before it stops), schedules timers (cancelled when it stops) and stops itself.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;

use crate::Pid;
use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::behavior::{DEFAULT_STASH_CAPACITY, Otherwise, Stash};
use crate::error::{AskError, Rejection, SpawnError, StopReason};
use crate::props::Props;
use crate::supervision::{RestartStats, SupervisorStrategy};
use crate::system::{ActorSystem, Parent, SysTx, SystemMsg};

pub(crate) struct Child {
    pub(crate) pid: Pid,
    pub(crate) sys: crate::syslane::SysSender,
    pub(crate) stats: RestartStats,
}

/// The runtime handle of one actor, passed to its handlers and hooks.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
/// use std::time::Duration;
///
/// #[actor]
/// #[derive(Default)]
/// struct Ticker {
///     ticks: u32,
/// }
///
/// #[actor]
/// impl Ticker {
///     async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
///         let tick = ctx.myself().typed().tick().into_message();
///         ctx.send_after(Duration::from_millis(10), tick);
///         Ok(())
///     }
///
///     #[handler]
///     fn tick(&mut self) {
///         self.ticks += 1;
///     }
///
///     #[handler]
///     fn ticks(&self) -> u32 {
///         self.ticks
///     }
/// }
///
/// // A paused clock: the sleep below jumps ahead past the 10 ms timer, whatever the load.
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let system = ActorSystem::new();
/// let t = system.spawn(Ticker::default).await.unwrap();
/// tokio::time::sleep(Duration::from_millis(50)).await;
/// assert_eq!(t.ticks().await.unwrap(), 1);
/// # system.shutdown().await;
/// # }
/// ```
pub struct Context<A: Actor> {
    myself: ActorRef<A>,
    /// This actor's own system lane (its ref's `sys`, which is always local).
    own_lane: crate::syslane::SysSender,
    system: ActorSystem,
    parent: Parent,
    /// The strategy for this actor's children; `None` for the default. Boxed: most
    /// actors have no children, and the strategy is 88 bytes.
    strategy: Option<Box<SupervisorStrategy>>,
    /// Children, watches, timers, the receive timeout: made at first use, so that an
    /// actor using none of them does not carry their empty maps (120 bytes).
    links: Option<Box<Links>>,
    pub(crate) stop_requested: bool,
    pub(crate) stopping: bool,
    /// Messages per turn (the serve loop's; here, where it fits in padding).
    pub(crate) throughput: u32,
    /// A failure to report once the current handler returns (a failed persist).
    pub(crate) deferred_failure: Option<Box<crate::ActorError>>,
    /// Made at the first stash: an actor that never stashes pays one word for it.
    pub(crate) stash: Option<Box<Stash<A::Msg>>>,
    /// The headers of the message being handled.
    pub(crate) headers: crate::Headers,
    #[cfg(feature = "persist")]
    pub(crate) persistence: Option<Box<crate::persistence::PersistState>>,
}

/// What an actor with children, watches, timers or a receive timeout keeps.
#[derive(Default)]
pub(crate) struct Links {
    pub(crate) children: HashMap<u64, Child>,
    /// Pids this actor watches.
    pub(crate) watching: HashSet<Pid>,
    timers: Vec<AbortHandle>,
    /// Messages dropped because their handler did not serve the state (`otherwise = drop`).
    dropped: u64,
    receive_timeout: Option<Duration>,
    /// Restarts so far, and the cause of the last one.
    restarts: u32,
    last_restart: Option<Arc<crate::ActorError>>,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(
        myself: ActorRef<A>,
        system: ActorSystem,
        own_lane: crate::syslane::SysSender,
        parent: Parent,
        strategy: Option<SupervisorStrategy>,
    ) -> Self {
        Context {
            myself,
            own_lane,
            system,
            parent,
            strategy: strategy.map(Box::new),
            links: None,
            stop_requested: false,
            stopping: false,
            throughput: crate::mailbox::DEFAULT_THROUGHPUT as u32,
            deferred_failure: None,
            stash: None,
            headers: crate::Headers::new(),
            #[cfg(feature = "persist")]
            persistence: None,
        }
    }

    /// The headers of the message being handled (none in hooks, and for messages sent
    /// without). See [`Headers`](crate::Headers).
    pub fn headers(&self) -> &crate::Headers {
        &self.headers
    }

    /// `to`, with the headers of the message being handled: what is sent through it
    /// carries them on, the way a trace id follows a request from actor to actor.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Store;
    ///
    /// #[actor]
    /// impl Store {
    ///     #[handler]
    ///     fn put(&self, ctx: &mut Context<Self>, key: String) -> String {
    ///         format!("{key} stored for {}", ctx.headers().get("tenant").unwrap_or("nobody"))
    ///     }
    /// }
    ///
    /// #[actor]
    /// struct Api {
    ///     store: StoreRef,
    /// }
    ///
    /// #[actor]
    /// impl Api {
    ///     #[handler]
    ///     async fn save(&self, ctx: &mut Context<Self>, key: String) -> Result<String, AskError> {
    ///         ctx.propagate(&self.store).put(key).await
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let store = system.spawn(Store::default).await?;
    /// let api = system.spawn(move || Api { store: store.clone() }).await?;
    /// let acme = api.with_headers(Headers::new().with("tenant", "acme"));
    /// assert_eq!(acme.save("k".into()).await?, "k stored for acme");
    /// assert_eq!(api.save("k".into()).await?, "k stored for nobody");
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn propagate<B: Actor>(&self, to: &ActorRef<B>) -> B::Ref {
        to.with_headers(self.headers.clone())
    }

    /// Forgets the headers of the message just handled.
    #[inline]
    pub(crate) fn clear_headers(&mut self) {
        if !self.headers.is_empty() {
            self.headers = crate::Headers::new();
        }
    }

    /// This actor's own ref.
    pub fn myself(&self) -> &ActorRef<A> {
        &self.myself
    }

    /// This actor's pid.
    pub fn pid(&self) -> Pid {
        self.myself.pid()
    }

    /// The parent's pid; `None` for top-level actors (their parent is the system guardian).
    pub fn parent(&self) -> Option<Pid> {
        self.parent.pid()
    }

    /// The parent as a typed ref: [`LookupError::NotFound`](crate::LookupError) for a
    /// top-level actor (its parent is the system) or a parent that has stopped,
    /// [`LookupError::WrongType`](crate::LookupError) if the parent is not a `P`.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Boss { reports: u32 }
    ///
    /// #[actor]
    /// impl Boss {
    ///     #[handler]
    ///     async fn hire(&mut self, ctx: &mut Context<Self>) -> Result<(), SpawnError> {
    ///         ctx.spawn_child(Worker::default).await?;
    ///         Ok(())
    ///     }
    ///
    ///     #[handler]
    ///     fn report(&mut self) { self.reports += 1; }
    ///
    ///     #[handler]
    ///     fn reports(&self) -> u32 { self.reports }
    /// }
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
    ///         let boss: BossRef = ctx.parent_ref::<Boss>()?;
    ///         boss.report().tell().await?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let boss = system.spawn(Boss::default).await?;
    /// boss.hire().await?;
    /// // The worker reports from its `pre_start`, which runs after `hire` has returned.
    /// # let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    /// # while boss.reports().await? == 0 && std::time::Instant::now() < deadline {
    /// #     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    /// # }
    /// assert_eq!(boss.reports().await?, 1);
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn parent_ref<P: Actor>(&self) -> Result<P::Ref, crate::LookupError> {
        match self.parent.pid() {
            Some(pid) => self.system.resolve::<P>(pid),
            None => Err(crate::LookupError::NotFound(
                "the system (no parent actor)".into(),
            )),
        }
    }

    /// Subscribes this actor to the system's event stream: `select` turns each event
    /// into one of its messages (usually through its own typed ref, given as the second
    /// argument: `me.on_event(e.clone()).into_message()`), or `None` to skip it; the
    /// messages arrive in the mailbox like any other, with no forwarding task. The
    /// subscription lasts until the actor stops (across restarts); subscribing again
    /// replaces it (so a `pre_start` that subscribes, run again after a restart, does
    /// not subscribe twice). A full bounded
    /// mailbox does not lose an event: it is queued once there is room (in a task of its
    /// own; only then may it come after a later one).
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Monitor { failures: Vec<String> }
    ///
    /// #[actor]
    /// impl Monitor {
    ///     async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
    ///         ctx.subscribe_events(|e, me| match e {
    ///             SystemEvent::Supervisor(s) if s.child_type.ends_with("Worker") => {
    ///                 Some(me.failed(s.reason.to_string()).into_message())
    ///             }
    ///             _ => None,
    ///         });
    ///         Ok(())
    ///     }
    ///
    ///     #[handler]
    ///     fn failed(&mut self, why: String) { self.failures.push(why); }
    ///
    ///     #[handler]
    ///     fn failures(&self) -> Vec<String> { self.failures.clone() }
    /// }
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[handler(fail_on_error)]
    ///     fn work(&mut self) -> Result<(), ActorError> { Err(ActorError::msg("out of coffee")) }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let monitor = system.spawn_started(Monitor::default).await?;
    /// let worker = system.spawn(Worker::default).await?;
    /// let _ = worker.work().await; // fails; the guardian restarts it
    /// # let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    /// # while monitor.failures().await?.is_empty() && std::time::Instant::now() < deadline {
    /// #     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    /// # }
    /// assert_eq!(monitor.failures().await?, ["out of coffee"]);
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn subscribe_events<F>(&mut self, select: F)
    where
        F: Fn(&crate::SystemEvent, &A::Ref) -> Option<A::Msg> + Send + Sync + 'static,
    {
        let me = self.myself.clone();
        let typed = me.typed();
        let pid = me.pid();
        self.system.events().add_actor(
            pid,
            Box::new(move |event| {
                if !me.is_alive() {
                    return false;
                }
                let Some(msg) = select(event, &typed) else {
                    return true;
                };
                match me.try_tell(msg) {
                    Ok(()) => true,
                    Err(crate::TellError::Full(msg)) => {
                        // Queued once there is room: never lost.
                        let me = me.clone();
                        tokio::spawn(async move {
                            let _ = me.tell(msg).await;
                        });
                        true
                    }
                    Err(_) => false,
                }
            }),
        );
    }

    /// How many times this actor has been restarted by its supervisor (`0` for the first
    /// instance); it survives restarts, as the context does.
    pub fn restarts(&self) -> u32 {
        self.links.as_ref().map_or(0, |l| l.restarts)
    }

    /// Why this actor was last restarted, if it was.
    pub fn last_restart_cause(&self) -> Option<&Arc<crate::ActorError>> {
        self.links.as_ref().and_then(|l| l.last_restart.as_ref())
    }

    /// Notes a restart (before the new instance recovers and `post_restart` runs).
    pub(crate) fn note_restart(&mut self, cause: Arc<crate::ActorError>) {
        let links = self.links_mut();
        links.restarts = links.restarts.saturating_add(1);
        links.last_restart = Some(cause);
    }

    pub(crate) fn parent_link(&self) -> &Parent {
        &self.parent
    }

    /// The system this actor runs in.
    pub fn system(&self) -> &ActorSystem {
        &self.system
    }

    /// The pids of the live children.
    pub fn children(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self.child_list().map(|c| c.pid).collect();
        pids.sort();
        pids
    }

    /// Spawns a child from a producer. The child stops before this actor stops.
    pub async fn spawn_child<B: Actor>(
        &mut self,
        producer: impl Fn() -> B + Send + Sync + 'static,
    ) -> Result<B::Ref, SpawnError> {
        self.spawn_child_props(Props::from_producer(producer)).await
    }

    /// Spawns a child made by `make` from `args`, passed once (each start and restart
    /// gets a clone): see [`Props::from_args`].
    pub async fn spawn_child_with<B: Actor, T>(
        &mut self,
        args: T,
        make: impl Fn(T) -> B + Send + Sync + 'static,
    ) -> Result<B::Ref, SpawnError>
    where
        T: Clone + Send + Sync + 'static,
    {
        self.spawn_child_props(Props::from_args(args, make)).await
    }

    /// Spawns a child from its initial state (each restart starts from a clone of it):
    /// see [`Props::from_value`].
    pub async fn spawn_child_value<B: Actor + Clone + Sync>(
        &mut self,
        actor: B,
    ) -> Result<B::Ref, SpawnError> {
        self.spawn_child_props(Props::from_value(actor)).await
    }

    /// Spawns a child from [`Props`].
    pub async fn spawn_child_props<B: Actor>(
        &mut self,
        props: Props<B>,
    ) -> Result<B::Ref, SpawnError> {
        self.spawn_child_now(props)
    }

    /// Spawns a child from [`Props`] without awaiting anything: for synchronous handlers
    /// and closures ([`Props::from_func`]). The child runs on a task of its own from now
    /// on; like every child, it stops before this actor stops.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {
    ///     #[handler]
    ///     fn ping(&self) -> &'static str {
    ///         "pong"
    ///     }
    /// }
    ///
    /// #[actor]
    /// struct Boss;
    ///
    /// #[actor]
    /// impl Boss {
    ///     #[handler]
    ///     fn hire(&mut self, ctx: &mut Context<Self>) -> Result<WorkerRef, SpawnError> {
    ///         ctx.spawn_child_now(Props::from_producer(Worker::default))
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let boss = system.spawn(|| Boss).await?;
    /// let worker = boss.hire().await?;
    /// assert_eq!(worker.ping().await?, "pong");
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn spawn_child_now<B: Actor>(&mut self, props: Props<B>) -> Result<B::Ref, SpawnError> {
        self.spawn_child_ref(props).map(|child| child.typed())
    }

    /// [`spawn_child_now`](Self::spawn_child_now), returning the untyped ref.
    pub(crate) fn spawn_child_ref<B: Actor>(
        &mut self,
        props: Props<B>,
    ) -> Result<ActorRef<B>, SpawnError> {
        if self.stopping {
            return Err(SpawnError::ParentStopping);
        }
        let parent = Parent::Actor {
            pid: self.pid(),
            sys: self.own_lane.clone(),
        };
        let (child, sys) = self.system.spawn_with_parent(props, parent)?;
        self.links_mut().children.insert(
            child.pid().id(),
            Child {
                pid: child.pid(),
                sys,
                stats: RestartStats::default(),
            },
        );
        Ok(child)
    }

    /// Watches another actor: when it stops, this actor's `on_terminated` hook runs with its
    /// pid and [`StopReason`]. Watching a pid that is already dead yields
    /// [`StopReason::NotFound`] at once (through the same hook). Children need no watch:
    /// their parent's hook runs for them anyway.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// struct Worker;
    ///
    /// #[actor]
    /// impl Worker {}
    ///
    /// #[actor]
    /// struct Watcher {
    ///     seen: tokio::sync::mpsc::UnboundedSender<(Pid, String)>,
    /// }
    ///
    /// #[actor]
    /// impl Watcher {
    ///     #[handler]
    ///     fn watch(&mut self, ctx: &mut Context<Self>, target: WorkerRef) {
    ///         ctx.watch(&target);
    ///     }
    ///
    ///     fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {
    ///         let _ = self.seen.send((pid, reason.to_string()));
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let watcher = system.spawn(move || Watcher { seen: tx.clone() }).await.unwrap();
    /// let worker = system.spawn(|| Worker).await.unwrap();
    /// watcher.watch(worker.clone()).await.unwrap();
    /// worker.stop();
    /// assert_eq!(rx.recv().await, Some((worker.pid(), "stopped".to_owned())));
    /// # system.shutdown().await;
    /// # }
    /// ```
    pub fn watch<R, B>(&mut self, target: &R)
    where
        R: AsRef<ActorRef<B>>,
        B: Actor,
    {
        let target = target.as_ref();
        let pid = target.pid();
        self.links_mut().watching.insert(pid);
        let watch = SystemMsg::Watch {
            watcher: self.pid(),
            sys: SysTx::Local(self.own_lane.clone()),
        };
        if target.inner.sys.send(watch).is_err() {
            // Already gone: answer the watch ourselves, through our own system lane.
            let _ = self.own_lane.send(SystemMsg::Terminated {
                pid,
                reason: StopReason::NotFound,
            });
        }
    }

    /// Stops watching `pid`; a notice already on its way is discarded.
    pub fn unwatch<R, B>(&mut self, target: &R)
    where
        R: AsRef<ActorRef<B>>,
        B: Actor,
    {
        let target = target.as_ref();
        if self.stop_watching(target.pid()) {
            // If it is gone, there is nothing to unwatch.
            let _ = target.inner.sys.send(SystemMsg::Unwatch {
                watcher: self.pid(),
            });
        }
    }

    /// Fails this actor once the current handler returns (its supervisor then decides),
    /// while the handler still replies normally.
    pub fn fail_after_handler(&mut self, error: crate::ActorError) {
        self.deferred_failure.get_or_insert_with(|| Box::new(error));
    }

    /// The persistence id of a persistent actor.
    #[cfg(feature = "persist")]
    pub fn persistence_id(&self) -> Option<&str> {
        self.persistence.as_deref().map(|p| p.id.as_str())
    }

    /// The sequence number of the last event persisted or recovered (0 before any).
    #[cfg(feature = "persist")]
    pub fn last_sequence_nr(&self) -> u64 {
        self.persistence.as_deref().map_or(0, |p| p.sequence_nr())
    }

    /// Stops this actor once the current message (or hook) is done. Queued messages become
    /// dead letters.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// Sends `msg` to this actor after `delay`. Cancelled when the actor stops or when the
    /// returned handle's [`cancel`](TimerHandle::cancel) is called.
    pub fn send_after(&mut self, delay: Duration, msg: A::Msg) -> TimerHandle {
        let target = self.myself.clone();
        self.add_timer(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // A failed send means the actor stopped; the message is published as a dead
            // letter by `tell`.
            let _ = target.tell(msg).await;
        }))
    }

    /// Sends the message made by `make` to this actor every `period`, the first time after
    /// one period. Cancelled when the actor stops or the handle is cancelled. A tick that
    /// finds the mailbox full waits for room, and missed ticks are skipped, not bunched.
    pub fn send_interval(
        &mut self,
        period: Duration,
        mut make: impl FnMut() -> A::Msg + Send + 'static,
    ) -> TimerHandle {
        let target = self.myself.clone();
        self.add_timer(tokio::spawn(async move {
            let start = tokio::time::Instant::now() + period;
            let mut interval = tokio::time::interval_at(start, period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                if target.tell(make()).await.is_err() {
                    return;
                }
            }
        }))
    }

    /// Runs `fut` on a task of its own and sends its output, turned into a message by
    /// `map`, to this actor: async work that does not hold up the mailbox, whose result
    /// is handled like any other message (Akka's `pipeToSelf`).
    ///
    /// The task is aborted when the actor stops or restarts (its result would belong to
    /// an instance that is gone), or when the returned handle is cancelled; `fut` is then
    /// dropped where it was and nothing is sent. The piped message carries the
    /// [headers](Self::headers) of the message being handled when `pipe_to_self` was
    /// called, so a trace id follows the work.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Fetcher {
    ///     got: Vec<u64>,
    /// }
    ///
    /// #[actor]
    /// impl Fetcher {
    ///     #[handler]
    ///     fn fetch(&mut self, ctx: &mut Context<Self>, n: u64) {
    ///         let me = ctx.myself().typed();
    ///         ctx.pipe_to_self(async move { n * 10 }, move |v| me.fetched(v).into_message());
    ///     }
    ///
    ///     #[handler]
    ///     fn fetched(&mut self, value: u64) {
    ///         self.got.push(value);
    ///     }
    ///
    ///     #[handler]
    ///     fn got(&self) -> Vec<u64> {
    ///         self.got.clone()
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let f = system.spawn(Fetcher::default).await?;
    /// f.fetch(4).await?;
    /// // The piped result arrives as a message of its own, some time after `fetch`.
    /// # tokio::time::timeout(std::time::Duration::from_secs(30), async {
    /// let got = loop {
    ///     let got = f.got().await?;
    ///     if !got.is_empty() {
    ///         break got;
    ///     }
    ///     tokio::task::yield_now().await;
    /// };
    /// assert_eq!(got, [40]);
    /// # Ok::<_, AskError>(()) }).await??;
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn pipe_to_self<T, F>(
        &mut self,
        fut: F,
        map: impl FnOnce(T) -> A::Msg + Send + 'static,
    ) -> TimerHandle
    where
        F: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        // The piped message carries the headers of the message being handled.
        let target = ActorRef::<A> {
            inner: std::sync::Arc::clone(&self.myself.inner),
            headers: self.headers.clone(),
        };
        self.add_timer(tokio::spawn(async move {
            let out = fut.await;
            // A failed send means the actor stopped; `tell` publishes the dead letter.
            let _ = target.tell(map(out)).await;
        }))
    }

    /// Puts `msg` aside, to be handled after [`unstash_all`](Self::unstash_all) (or after
    /// a state change, for actors with `#[handler(when = ..)]`), in the order stashed and
    /// before the messages still in the mailbox.
    ///
    /// The stash holds `#[actor(stash = ..)]` messages (default
    /// [`DEFAULT_STASH_CAPACITY`](crate::behavior::DEFAULT_STASH_CAPACITY)). When it is
    /// full, `msg` is not kept: it becomes a dead letter, its asker gets
    /// [`Rejection::StashFull`], and so does the caller.
    ///
    /// Stashed messages survive a restart: they go back in front of the mailbox for the
    /// new instance (as in Akka). When the actor stops, they become dead letters and their
    /// askers get [`AskError::NoReply`].
    ///
    /// A `#[handler]` gets its arguments moved into it, so the message it came in is no
    /// longer whole: stash with `#[handler(when = .., otherwise = stash)]` before it is
    /// taken apart, or stash a message built whole (closure actors, hand-written actors,
    /// [`Behavior`](crate::Behavior)s receive theirs whole).
    pub fn stash(&mut self, msg: A::Msg) -> Result<(), Rejection> {
        let stash = self.stash.get_or_insert_with(|| {
            Box::new(Stash::new(
                A::stash_capacity().unwrap_or(DEFAULT_STASH_CAPACITY),
            ))
        });
        if stash.stashed.len() + stash.replay.len() >= stash.capacity {
            let rejection = Rejection::StashFull {
                message: A::message_name(&msg),
                capacity: stash.capacity,
            };
            self.refuse(msg, AskError::Rejected(rejection.clone()));
            return Err(rejection);
        }
        stash
            .stashed
            .push_back(crate::mailbox::Letter::new(msg, &self.headers));
        Ok(())
    }

    /// Takes every stashed message out again: they are handled next, in the order they
    /// were stashed, before the messages waiting in the mailbox.
    pub fn unstash_all(&mut self) {
        if let Some(stash) = &mut self.stash {
            stash.unstash_all();
        }
    }

    /// How many messages are stashed (not counting those taken out and not yet handled).
    pub fn stashed(&self) -> usize {
        self.stash.as_ref().map_or(0, |s| s.stashed.len())
    }

    /// How many messages this actor dropped because their handler did not serve its
    /// state (`otherwise = drop`), since it was spawned.
    pub fn dropped(&self) -> u64 {
        self.links.as_ref().map_or(0, |l| l.dropped)
    }

    /// The next message taken out of the stash, if any.
    #[inline]
    pub(crate) fn next_unstashed(&mut self) -> Option<crate::mailbox::Letter<A::Msg>> {
        self.stash.as_mut()?.replay.pop_front()
    }

    pub(crate) fn has_stashed(&self) -> bool {
        self.stash.as_ref().is_some_and(|s| !s.stashed.is_empty())
    }

    /// A message whose handler does not serve the state `state`: stashed, refused or
    /// dropped as `otherwise` says.
    pub(crate) fn not_served(&mut self, msg: A::Msg, otherwise: Otherwise, state: String) {
        let name = A::message_name(&msg);
        match otherwise {
            Otherwise::Stash => {
                // A full stash has dealt with the message already (dead letter, asker told).
                let _ = self.stash(msg);
            }
            Otherwise::Reject => {
                let rejection = Rejection::NotServed {
                    message: name,
                    state,
                };
                self.refuse(msg, AskError::Rejected(rejection));
            }
            Otherwise::Drop => {
                self.links_mut().dropped += 1;
                self.system.events().dead_letter(self.pid(), name);
                drop(msg);
            }
        }
    }

    /// A message this actor will not handle: its dead letter, and `error` to its asker.
    pub(crate) fn refuse(&self, msg: A::Msg, error: AskError) {
        self.system
            .events()
            .dead_letter(self.pid(), A::message_name(&msg));
        A::refuse(msg, error);
    }

    /// Everything stashed or waiting to be replayed, oldest first (for the stop).
    pub(crate) fn take_stash(&mut self) -> Vec<crate::mailbox::Letter<A::Msg>> {
        match self.stash.take() {
            Some(mut s) => {
                s.unstash_all();
                s.replay.into()
            }
            None => Vec::new(),
        }
    }

    /// Runs the actor's `on_receive_timeout` hook whenever no user message has arrived for
    /// `timeout`: once after the first idle period, then again after each further one
    /// while the actor stays idle. Every user message starts the period again. Replaces
    /// an earlier timeout; cleared by [`cancel_receive_timeout`](Self::cancel_receive_timeout)
    /// and by a restart (the new instance sets its own, e.g. in `pre_start`).
    ///
    /// ```
    /// use bactor::prelude::*;
    /// use std::time::Duration;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Session {
    ///     idle: u32,
    /// }
    ///
    /// #[actor]
    /// impl Session {
    ///     fn pre_start(&mut self, ctx: &mut Context<Self>) {
    ///         ctx.set_receive_timeout(Duration::from_secs(30));
    ///     }
    ///
    ///     fn on_receive_timeout(&mut self, ctx: &mut Context<Self>) {
    ///         self.idle += 1;
    ///         ctx.stop();
    ///     }
    ///
    ///     #[handler]
    ///     fn touch(&self) {}
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let s = system.spawn(Session::default).await?;
    /// s.touch().await?;
    /// s.stopped().await; // 30 s later (a paused clock here), idle: stopped by itself
    /// # Ok(()) }
    /// ```
    pub fn set_receive_timeout(&mut self, timeout: Duration) {
        self.links_mut().receive_timeout = Some(timeout);
    }

    /// Cancels the receive timeout.
    pub fn cancel_receive_timeout(&mut self) {
        if let Some(links) = &mut self.links {
            links.receive_timeout = None;
        }
    }

    /// The receive timeout in force, if any.
    #[inline]
    pub fn receive_timeout(&self) -> Option<Duration> {
        self.links.as_ref()?.receive_timeout
    }

    fn add_timer(&mut self, task: tokio::task::JoinHandle<()>) -> TimerHandle {
        let timers = &mut self.links_mut().timers;
        timers.retain(|t| !t.is_finished());
        let handle = task.abort_handle();
        timers.push(handle.clone());
        TimerHandle { handle }
    }

    pub(crate) fn cancel_timers(&mut self) {
        if let Some(links) = &mut self.links {
            for t in links.timers.drain(..) {
                t.abort();
            }
        }
    }

    pub(crate) fn links_mut(&mut self) -> &mut Links {
        self.links.get_or_insert_with(Default::default)
    }

    /// The live children.
    pub(crate) fn child_list(&self) -> impl Iterator<Item = &Child> {
        self.links.iter().flat_map(|l| l.children.values())
    }

    pub(crate) fn has_children(&self) -> bool {
        self.links.as_ref().is_some_and(|l| !l.children.is_empty())
    }

    pub(crate) fn child(&self, id: u64) -> Option<&Child> {
        self.links.as_ref()?.children.get(&id)
    }

    pub(crate) fn child_mut(&mut self, id: u64) -> Option<&mut Child> {
        self.links.as_mut()?.children.get_mut(&id)
    }

    /// Forgets a child that has stopped (and any watch of it).
    pub(crate) fn remove_child(&mut self, pid: Pid) {
        if let Some(links) = &mut self.links {
            links.children.remove(&pid.id());
            links.watching.remove(&pid);
        }
    }

    /// Forgets a watch; `false` if `pid` was not watched.
    pub(crate) fn stop_watching(&mut self, pid: Pid) -> bool {
        self.links.as_mut().is_some_and(|l| l.watching.remove(&pid))
    }

    /// The strategy for this actor's children.
    pub(crate) fn strategy(&self) -> SupervisorStrategy {
        self.strategy.as_deref().copied().unwrap_or_default()
    }

    /// The failure a handler left for after it returned ([`fail_after_handler`], a failed
    /// persist).
    ///
    /// [`fail_after_handler`]: Context::fail_after_handler
    #[inline]
    pub(crate) fn take_deferred_failure(&mut self) -> Option<crate::ActorError> {
        self.deferred_failure.take().map(|e| *e)
    }

    /// After a restart: no failure left over, no receive timeout.
    /// The persistence state and the system lane at once (to start a write that wakes
    /// the actor).
    #[cfg(feature = "persist")]
    pub(crate) fn persistence_and_lane(
        &mut self,
    ) -> (
        Option<&mut crate::persistence::PersistState>,
        &crate::syslane::SysSender,
    ) {
        (self.persistence.as_deref_mut(), &self.own_lane)
    }

    pub(crate) fn reset_for_restart(&mut self) {
        self.deferred_failure = None;
        self.cancel_receive_timeout();
    }
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("pid", &self.pid())
            .field("children", &self.child_list().count())
            .finish_non_exhaustive()
    }
}

/// A scheduled timer. Dropping it does not cancel the timer; [`cancel`](Self::cancel) does,
/// and so does the actor's stop.
#[derive(Debug, Clone)]
pub struct TimerHandle {
    handle: AbortHandle,
}

impl TimerHandle {
    /// Cancels the timer. A message already sent stays in the mailbox.
    pub fn cancel(&self) {
        self.handle.abort();
    }

    /// `true` once the timer has fired for the last time or was cancelled.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}
