//! The system event stream and dead letters.
//!
//! Every [`ActorSystem`](crate::ActorSystem) has one [`EventStream`]. The runtime publishes a
//! typed [`SystemEvent`] for lifecycle changes (started, stopped) and for every message that
//! could not be delivered (a [`DeadLetter`]). Tests and metrics subscribe to it; a filter
//! keeps only the events a subscriber wants.
//!
//! Publishing costs one atomic load while nobody subscribes. Each subscription has its own
//! unbounded queue, so a slow subscriber never makes the runtime drop an event or wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::Pid;
use crate::error::{ActorError, StopReason};
use crate::supervision::SupervisorEvent;

/// A message that could not be delivered.
///
/// Published when a message is sent to an actor that is not running, and for every message
/// still queued when an actor stops (an ask among them fails with
/// [`AskError::NoReply`](crate::AskError::NoReply) at the same moment). A `tell` that fails
/// also hands its message back to the sender in [`TellError`](crate::TellError).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The actor the message was meant for.
    pub recipient: Pid,
    /// Which message it was: `Type::handler` for generated messages, else the type name.
    pub message: &'static str,
}

/// An event published by the runtime.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// # #[tokio::main] async fn main() {
/// let system = ActorSystem::new();
/// let mut events = system.events().subscribe();
/// let echo = system.spawn_fn(|_: u32| async {}).await.unwrap();
/// let pid = echo.pid();
/// assert!(matches!(events.recv().await, Some(SystemEvent::ActorStarted { pid: p, .. }) if p == pid));
/// system.shutdown().await;
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SystemEvent {
    /// The actor ran `pre_start` successfully and takes messages.
    ActorStarted {
        /// Its pid.
        pid: Pid,
        /// Its Rust type.
        type_name: &'static str,
    },
    /// The actor has stopped: children stopped, `post_stop` ran, mailbox drained.
    ActorStopped {
        /// Its pid.
        pid: Pid,
        /// Why.
        reason: StopReason,
    },
    /// A message could not be delivered.
    DeadLetter(DeadLetter),
    /// A supervisor decided what to do with a failed child.
    Supervisor(SupervisorEvent),
    /// A persistent actor could not save a snapshot. Its events are stored; only the next
    /// recovery takes longer.
    SnapshotFailed {
        /// Its pid.
        pid: Pid,
        /// Why.
        error: String,
    },
    /// A persistent actor's write met a conflict: another live incarnation of its
    /// persistence id wrote first. It stops or fails, as its `on_conflict` says.
    PersistConflict {
        /// Its pid.
        pid: Pid,
        /// The journal.
        persistence_id: String,
        /// The highest sequence number it expected.
        expected: u64,
        /// The highest one found.
        actual: u64,
    },
    /// A persistent actor recovered its state (at start and at every restart), before its
    /// first message.
    Recovered {
        /// Its pid.
        pid: Pid,
        /// Its persistence id.
        persistence_id: String,
        /// The sequence number of the snapshot it started from, if any.
        snapshot: Option<u64>,
        /// How many events it replayed after that.
        events: u64,
        /// How long recovery took.
        duration: std::time::Duration,
    },
    /// A persistent actor's snapshot no longer decodes (its state's type changed) and
    /// recovery went on without it, from an older snapshot or the start of the journal
    /// (`#[persistent(bad_snapshot = older)]`, the default).
    SnapshotSkipped {
        /// Its pid.
        pid: Pid,
        /// The snapshot's sequence number.
        sequence_nr: u64,
        /// Why it did not decode.
        error: String,
    },
    /// The actor was restarted: a fresh instance runs behind the same pid.
    ActorRestarted {
        /// Its pid.
        pid: Pid,
        /// The failure that caused the restart (the sibling's, for all-for-one).
        reason: Arc<ActorError>,
    },
    /// A stream to another node is open (feature `remote`).
    NodeConnected {
        /// The node's address.
        address: String,
        /// Its run; another one than before means it restarted.
        incarnation: u64,
    },
    /// The stream to another node closed (feature `remote`); it is dialled again.
    NodeDisconnected {
        /// The node's address.
        address: String,
        /// Why.
        reason: String,
    },
    /// Another node counts as down (feature `remote`): watchers of its actors got
    /// [`StopReason::NodeDown`], asks to it failed.
    NodeDown {
        /// The node's address.
        address: String,
        /// Why.
        reason: String,
    },
}

type Filter = Box<dyn Fn(&SystemEvent) -> bool + Send + Sync>;

/// Where an actor subscribed to the stream gets its events: it turns an event into one
/// of its messages (or none) and queues it; `false` once the actor is gone.
pub(crate) type ActorSink = Box<dyn Fn(&SystemEvent) -> bool + Send + Sync>;

enum Subscriber {
    Channel {
        tx: mpsc::UnboundedSender<SystemEvent>,
        filter: Option<Filter>,
    },
    /// One per actor (its pid's id): subscribing again replaces it.
    Actor(u64, ActorSink),
}

/// The system-wide publish/subscribe channel of [`SystemEvent`]s.
///
/// Obtained from [`ActorSystem::events`](crate::ActorSystem::events).
pub struct EventStream {
    subscribers: Mutex<Vec<Subscriber>>,
    count: AtomicUsize,
    /// Dead letters are counted in `bactor_dead_letters_total` (feature `metrics`, unless
    /// the system's metrics are off).
    #[cfg(feature = "metrics")]
    metered: bool,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("subscribers", &self.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// A stream that counts dead letters in the metrics when `metered` (feature
    /// `metrics`).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(metered: bool) -> Arc<Self> {
        Arc::new(EventStream {
            subscribers: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            #[cfg(feature = "metrics")]
            metered,
        })
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        self.add(None)
    }

    /// Receives the events for which `filter` returns `true`.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let mut dead = system
    ///     .events()
    ///     .subscribe_filtered(|e| matches!(e, SystemEvent::DeadLetter(_)));
    /// let echo = system.spawn_fn(|_: u32| async {}).await.unwrap();
    /// echo.stop();
    /// echo.stopped().await;
    /// assert!(echo.tell(1).await.is_err()); // handed back to us, and published
    /// assert!(matches!(dead.recv().await, Some(SystemEvent::DeadLetter(_))));
    /// # }
    /// ```
    pub fn subscribe_filtered(
        &self,
        filter: impl Fn(&SystemEvent) -> bool + Send + Sync + 'static,
    ) -> Subscription {
        self.add(Some(Box::new(filter)))
    }

    fn add(&self, filter: Option<Filter>) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        self.push(Subscriber::Channel { tx, filter });
        Subscription { rx }
    }

    /// Subscribes an actor ([`Context::subscribe_events`](crate::Context::subscribe_events)),
    /// replacing its earlier subscription.
    pub(crate) fn add_actor(&self, actor: Pid, sink: ActorSink) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| !matches!(s, Subscriber::Actor(id, _) if *id == actor.id()));
        subs.push(Subscriber::Actor(actor.id(), sink));
        self.count.store(subs.len(), Ordering::Release);
    }

    fn push(&self, subscriber: Subscriber) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.push(subscriber);
        self.count.store(subs.len(), Ordering::Release);
    }

    /// `true` when at least one subscription is open.
    pub fn has_subscribers(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Publishes an event to every matching subscriber. Closed subscriptions are removed.
    pub(crate) fn publish(&self, event: SystemEvent) {
        if !self.has_subscribers() {
            return;
        }
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| match s {
            Subscriber::Channel { tx, filter } => {
                if tx.is_closed() {
                    return false;
                }
                if filter.as_ref().is_none_or(|f| f(&event)) {
                    // A send fails only if the subscription closed meanwhile.
                    return tx.send(event.clone()).is_ok();
                }
                true
            }
            Subscriber::Actor(_, sink) => sink(&event),
        });
        self.count.store(subs.len(), Ordering::Release);
    }

    pub(crate) fn dead_letter(&self, recipient: Pid, message: &'static str) {
        crate::trace::dead_letter(recipient, message);
        #[cfg(feature = "metrics")]
        if self.metered {
            crate::metrics::dead_letter(message);
        }
        self.publish(SystemEvent::DeadLetter(DeadLetter { recipient, message }));
    }
}

/// A subscription to the [`EventStream`]. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<SystemEvent>,
}

impl Subscription {
    /// The next event; `None` only once the system is gone.
    pub async fn recv(&mut self) -> Option<SystemEvent> {
        self.rx.recv().await
    }

    /// The next event if one is already queued.
    pub fn try_recv(&mut self) -> Option<SystemEvent> {
        self.rx.try_recv().ok()
    }
}

/// One live actor, as [`ActorSystem::actors`](crate::ActorSystem::actors) reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActorInfo {
    /// Its pid.
    pub pid: Pid,
    /// Its type (`std::any::type_name`).
    pub type_name: &'static str,
    /// Its name, if it was spawned with one.
    pub name: Option<String>,
    /// Its parent; `None` for a top-level actor.
    pub parent: Option<Pid>,
    /// Its live children, oldest first.
    pub children: Vec<Pid>,
    /// Messages waiting in its mailbox.
    pub mailbox: u64,
    /// Messages it has taken from its mailbox (all incarnations), counted as each
    /// handler starts; wraps at 2^32 (a counter to take rates from).
    pub handled: u32,
    /// Its failures (panics, errors of `fail_on_error` handlers and hooks), counted up
    /// to 65,535.
    pub failures: u32,
    /// Its restarts, counted up to 255.
    pub restarts: u32,
    /// Its last failure, if any.
    pub last_failure: Option<String>,
}

impl ActorInfo {
    /// The actors as an indented tree, one line each (`pid type "name" mailbox=..
    /// handled=.. failures=.. restarts=..`), children under their parent.
    pub fn render_tree(actors: &[ActorInfo]) -> String {
        use std::fmt::Write as _;
        fn line(out: &mut String, all: &[ActorInfo], a: &ActorInfo, depth: usize) {
            let name = a
                .name
                .as_deref()
                .map(|n| format!(" {n:?}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:indent$}{} {}{name} mailbox={} handled={} failures={} restarts={}",
                "",
                a.pid,
                a.type_name,
                a.mailbox,
                a.handled,
                a.failures,
                a.restarts,
                indent = depth * 2
            );
            for child in &a.children {
                if let Some(c) = all.iter().find(|x| x.pid == *child) {
                    line(out, all, c, depth + 1);
                }
            }
        }
        let mut out = String::new();
        for a in actors
            .iter()
            .filter(|a| a.parent.is_none_or(|p| !actors.iter().any(|x| x.pid == p)))
        {
            line(&mut out, actors, a, 0);
        }
        out
    }
}
