//! The actor's view of the runtime while it handles a message.
//!
//! A [`Context`] is handed to every handler that asks for one (`ctx: &mut Context<Self>`)
//! and to the lifecycle hooks. Through it an actor reaches its own ref, spawns children
//! (stopped before it stops), schedules timers (cancelled when it stops) and stops itself.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::Pid;
use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::error::{SpawnError, StopReason};
use crate::props::Props;
use crate::supervision::{RestartStats, SupervisorStrategy};
use crate::system::{ActorSystem, Parent, SysTx, SystemMsg};

pub(crate) struct Child {
    pub(crate) pid: Pid,
    pub(crate) sys: mpsc::UnboundedSender<SystemMsg>,
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
    own_lane: mpsc::UnboundedSender<SystemMsg>,
    system: ActorSystem,
    parent: Parent,
    pub(crate) children: HashMap<u64, Child>,
    pub(crate) strategy: SupervisorStrategy,
    /// Pids this actor watches.
    pub(crate) watching: HashSet<Pid>,
    timers: Vec<AbortHandle>,
    pub(crate) stop_requested: bool,
    pub(crate) stopping: bool,
    /// A failure to report once the current handler returns (a failed persist).
    pub(crate) deferred_failure: Option<crate::ActorError>,
    #[cfg(feature = "persist")]
    pub(crate) persistence: Option<crate::persistence::PersistState>,
}

impl<A: Actor> Context<A> {
    pub(crate) fn new(
        myself: ActorRef<A>,
        system: ActorSystem,
        own_lane: mpsc::UnboundedSender<SystemMsg>,
        parent: Parent,
        strategy: SupervisorStrategy,
    ) -> Self {
        Context {
            myself,
            own_lane,
            system,
            parent,
            children: HashMap::new(),
            strategy,
            watching: HashSet::new(),
            timers: Vec::new(),
            stop_requested: false,
            stopping: false,
            deferred_failure: None,
            #[cfg(feature = "persist")]
            persistence: None,
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

    pub(crate) fn parent_link(&self) -> &Parent {
        &self.parent
    }

    /// The system this actor runs in.
    pub fn system(&self) -> &ActorSystem {
        &self.system
    }

    /// The pids of the live children.
    pub fn children(&self) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self.children.values().map(|c| c.pid).collect();
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
        if self.stopping {
            return Err(SpawnError::ParentStopping);
        }
        let parent = Parent::Actor {
            pid: self.pid(),
            sys: self.own_lane.clone(),
        };
        let (child, sys) = self.system.spawn_with_parent(props, parent)?;
        self.children.insert(
            child.pid().id(),
            Child {
                pid: child.pid(),
                sys,
                stats: RestartStats::default(),
            },
        );
        Ok(child.typed())
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
        self.watching.insert(pid);
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
        if self.watching.remove(&target.pid()) {
            // If it is gone, there is nothing to unwatch.
            let _ = target.inner.sys.send(SystemMsg::Unwatch {
                watcher: self.pid(),
            });
        }
    }

    /// Fails this actor once the current handler returns (its supervisor then decides),
    /// while the handler still replies normally.
    pub fn fail_after_handler(&mut self, error: crate::ActorError) {
        self.deferred_failure.get_or_insert(error);
    }

    /// The persistence id of a persistent actor.
    #[cfg(feature = "persist")]
    pub fn persistence_id(&self) -> Option<&str> {
        self.persistence.as_ref().map(|p| p.id.as_str())
    }

    /// The sequence number of the last event persisted or recovered (0 before any).
    #[cfg(feature = "persist")]
    pub fn last_sequence_nr(&self) -> u64 {
        self.persistence.as_ref().map_or(0, |p| p.sequence_nr())
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

    fn add_timer(&mut self, task: tokio::task::JoinHandle<()>) -> TimerHandle {
        self.timers.retain(|t| !t.is_finished());
        let handle = task.abort_handle();
        self.timers.push(handle.clone());
        TimerHandle { handle }
    }

    pub(crate) fn cancel_timers(&mut self) {
        for t in self.timers.drain(..) {
            t.abort();
        }
    }
}

impl<A: Actor> fmt::Debug for Context<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("pid", &self.pid())
            .field("children", &self.children.len())
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
