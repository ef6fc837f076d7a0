//! Mailbox kinds: priority levels, and queues of the user's own through the `Mailbox`
//! trait (`#[actor(mailbox = ..)]`, `Props::mailbox_with`): ordering, back-pressure,
//! drops as dead letters, graceful stop, and many senders racing a tiny queue.

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use bactor::mailbox::{Envelope, Mailbox, PriorityMailbox, Push};
use bactor::prelude::*;
use bactor::{Priority, TellError};
use tokio::sync::{mpsc, watch};

mod common;
use common::{no_hang, poll_once};

/// Handlers at every level; `hold` blocks the actor until the gate opens, so tests can
/// queue messages behind it.
#[actor]
struct Levels {
    gate: watch::Receiver<bool>,
    started: mpsc::UnboundedSender<()>,
    order: Arc<Mutex<Vec<String>>>,
}

#[actor]
impl Levels {
    #[handler]
    async fn hold(&mut self) {
        let _ = self.started.send(());
        let _ = self.gate.wait_for(|open| *open).await;
    }

    #[handler(priority = low)]
    fn chore(&mut self, n: u32) {
        self.order.lock().unwrap().push(format!("low {n}"));
    }

    #[handler]
    fn task(&mut self, n: u32) {
        self.order.lock().unwrap().push(format!("normal {n}"));
    }

    #[handler(priority = high)]
    fn alarm(&mut self, n: u32) -> u32 {
        self.order.lock().unwrap().push(format!("high {n}"));
        n
    }
}

struct Held<A: Actor> {
    system: ActorSystem,
    actor: A::Ref,
    gate: watch::Sender<bool>,
    order: Arc<Mutex<Vec<String>>>,
}

/// Spawns a `Levels` from `props` and holds it at the gate.
async fn held(props: impl FnOnce(Levels) -> Props<Levels>) -> Held<Levels> {
    let system = ActorSystem::new();
    let (gate, gate_rx) = watch::channel(false);
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let order = Arc::new(Mutex::new(Vec::new()));
    let levels = Levels {
        gate: gate_rx,
        started: started_tx,
        order: Arc::clone(&order),
    };
    let actor = no_hang(system.spawn_props(props(levels))).await.unwrap();
    no_hang(actor.hold().tell()).await.unwrap();
    no_hang(started.recv()).await.unwrap();
    Held {
        system,
        actor,
        gate,
        order,
    }
}

fn once(levels: Levels) -> Props<Levels> {
    let slot = Mutex::new(Some(levels));
    Props::from_producer(move || slot.lock().unwrap().take().expect("made once"))
}

#[tokio::test]
async fn levels_are_served_highest_first_each_in_arrival_order() {
    let h = held(once).await;
    let a = &h.actor;
    // Interleaved: low, normal and high messages from one sender.
    for n in 1..=3 {
        a.chore(n).try_tell().unwrap();
        a.task(n).try_tell().unwrap();
        a.alarm(n).try_tell().unwrap();
    }
    // A request may change its own level.
    a.task(9).priority(Priority::Low).try_tell().unwrap();
    a.chore(8).high_priority().try_tell().unwrap();
    let mut last = a.alarm(4).into_future();
    assert!(poll_once(&mut last).is_pending());
    assert!(
        h.order.lock().unwrap().is_empty(),
        "the actor is still held"
    );
    h.gate.send(true).unwrap();
    assert_eq!(no_hang(last).await, Ok(4));
    no_hang(a.task(0)).await.unwrap();
    let seen = h.order.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "high 1", "high 2", "high 3", "low 8", "high 4", "normal 1", "normal 2", "normal 3",
            "low 1", "low 2", "low 3", "normal 9", "normal 0"
        ]
    );
    no_hang(h.system.shutdown()).await;
}

#[tokio::test]
async fn the_priority_mailbox_takes_its_bound_from_the_mailbox_setting() {
    let h = held(|l| once(l).mailbox(MailboxConfig::Bounded(2))).await;
    let a = &h.actor;
    a.chore(1).try_tell().unwrap();
    a.alarm(1).try_tell().unwrap();
    // The bound counts every level: a third message waits, whatever its level.
    match a.alarm(2).try_tell() {
        Err(TellError::Full(_)) => {}
        other => panic!("expected Full, got {other:?}"),
    }
    let mut waiting = a.alarm(3).tell();
    assert!(poll_once(&mut waiting).is_pending());
    h.gate.send(true).unwrap();
    no_hang(waiting).await.unwrap();
    no_hang(a.task(0)).await.unwrap();
    // `high 3` waited for room, so it may come after `low 1`; `high 1` came first.
    let mut seen = h.order.lock().unwrap().clone();
    assert_eq!(seen[0], "high 1");
    seen.sort();
    assert_eq!(seen, ["high 1", "high 3", "low 1", "normal 0"]);
    no_hang(h.system.shutdown()).await;
}

/// A queue of its own: newest first, at most `cap` messages (`Full` beyond), dropping any
/// message whose argument is 13.
struct Lifo {
    cap: usize,
    stack: Mutex<Vec<Envelope<LifoUserMsg>>>,
}

impl Lifo {
    fn with_capacity(cap: usize) -> Self {
        Lifo {
            cap,
            stack: Mutex::new(Vec::new()),
        }
    }
}

impl Default for Lifo {
    fn default() -> Self {
        Lifo::with_capacity(usize::MAX)
    }
}

impl Mailbox<LifoUserMsg> for Lifo {
    fn push(&self, envelope: Envelope<LifoUserMsg>) -> Push<LifoUserMsg> {
        if let LifoUserMsg::Note { n: 13, .. } = envelope.message() {
            return Push::Dropped(envelope);
        }
        let mut stack = self.stack.lock().unwrap();
        if stack.len() >= self.cap {
            return Push::Full(envelope);
        }
        stack.push(envelope);
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<LifoUserMsg>> {
        self.stack.lock().unwrap().pop()
    }

    fn len(&self) -> usize {
        self.stack.lock().unwrap().len()
    }
}

/// Takes its custom mailbox from the type (`Default`).
#[actor(mailbox = Lifo)]
struct LifoUser {
    gate: watch::Receiver<bool>,
    started: mpsc::UnboundedSender<()>,
    seen: Arc<Mutex<Vec<u32>>>,
}

#[actor]
impl LifoUser {
    #[handler]
    async fn note(&mut self, n: u32) -> u32 {
        if n == 0 {
            let _ = self.started.send(());
            let _ = self.gate.wait_for(|open| *open).await;
        }
        self.seen.lock().unwrap().push(n);
        n
    }
}

/// A `LifoUser` blocked on its first message, with `props` applied.
async fn lifo(
    props: impl FnOnce(Props<LifoUser>) -> Props<LifoUser>,
) -> (
    ActorSystem,
    LifoUserRef,
    watch::Sender<bool>,
    Arc<Mutex<Vec<u32>>>,
) {
    let system = ActorSystem::new();
    let (gate, gate_rx) = watch::channel(false);
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let base = Props::from_producer(move || LifoUser {
        gate: gate_rx.clone(),
        started: started_tx.clone(),
        seen: Arc::clone(&s),
    });
    let actor = no_hang(system.spawn_props(props(base))).await.unwrap();
    no_hang(actor.note(0).tell()).await.unwrap();
    no_hang(started.recv()).await.unwrap();
    (system, actor, gate, seen)
}

#[tokio::test]
async fn a_custom_mailbox_from_the_type_chooses_the_order() {
    let (system, actor, gate, seen) = lifo(|p| p).await;
    for n in 1..=4 {
        actor.note(n).try_tell().unwrap();
    }
    gate.send(true).unwrap();
    // Newest first: the ask's own message, queued last, then 4 3 2 1.
    assert_eq!(no_hang(actor.note(5)).await, Ok(5));
    no_hang(actor.note(6)).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [0, 5, 4, 3, 2, 1, 6]);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn props_choose_the_mailbox_over_the_type() {
    // A plain channel from the props: arrival order again.
    let (system, actor, gate, seen) = lifo(|p| p.mailbox(MailboxConfig::Unbounded)).await;
    for n in 1..=3 {
        actor.note(n).try_tell().unwrap();
    }
    gate.send(true).unwrap();
    assert_eq!(no_hang(actor.note(4)).await, Ok(4));
    assert_eq!(*seen.lock().unwrap(), [0, 1, 2, 3, 4]);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_full_custom_mailbox_pushes_back_and_makes_room_on_pop() {
    let (system, actor, gate, seen) = lifo(|p| p.mailbox_with(|| Lifo::with_capacity(2))).await;
    actor.note(1).try_tell().unwrap();
    actor.note(2).try_tell().unwrap();
    match actor.note(3).try_tell() {
        Err(TellError::Full(msg)) => assert!(format!("{msg:?}").contains("Note")),
        other => panic!("expected Full, got {other:?}"),
    }
    let mut tell = actor.note(3).tell();
    let mut ask = actor.note(4).into_future();
    assert!(poll_once(&mut tell).is_pending());
    assert!(poll_once(&mut ask).is_pending());
    gate.send(true).unwrap();
    no_hang(tell).await.unwrap();
    assert_eq!(no_hang(ask).await, Ok(4));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "every message handled once: {seen:?}");
    assert_eq!(seen[..2], [0, 2], "newest first once the gate opened");
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_dropped_message_is_a_dead_letter_and_its_asker_hears_of_it() {
    let (system, actor, gate, seen) = lifo(|p| p).await;
    let mut dead = system
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::DeadLetter(_)));
    // The queue drops 13 as soon as it is offered.
    actor.note(13).try_tell().unwrap();
    let asked = actor.note(13).into_future();
    gate.send(true).unwrap();
    assert_eq!(no_hang(asked).await, Err(AskError::NoReply));
    for _ in 0..2 {
        match no_hang(dead.recv()).await {
            Some(SystemEvent::DeadLetter(letter)) => {
                assert_eq!(letter.recipient, actor.pid());
                assert!(letter.message.contains("note"), "{}", letter.message);
            }
            other => panic!("expected a dead letter, got {other:?}"),
        }
    }
    assert_eq!(no_hang(actor.note(1)).await, Ok(1));
    assert_eq!(*seen.lock().unwrap(), [0, 1]);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_graceful_stop_handles_what_the_custom_queue_holds_then_refuses() {
    let (system, actor, gate, seen) = lifo(|p| p).await;
    actor.note(1).try_tell().unwrap();
    actor.note(2).try_tell().unwrap();
    // The first poll queues the stop; the future then waits for the end.
    let mut stopping = Box::pin(actor.stop_gracefully());
    assert!(poll_once(&mut stopping).is_pending());
    // Closed from the stop on: later sends are dead at once, the message handed back.
    match actor.note(3).try_tell() {
        Err(TellError::Dead(_)) => {}
        other => panic!("expected Dead, got {other:?}"),
    }
    assert!(!actor.is_alive());
    gate.send(true).unwrap();
    no_hang(stopping).await;
    assert_eq!(*seen.lock().unwrap(), [0, 2, 1]);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn senders_waiting_on_a_full_custom_queue_hear_the_stop() {
    let (system, actor, gate, seen) = lifo(|p| p.mailbox_with(|| Lifo::with_capacity(1))).await;
    actor.note(1).try_tell().unwrap();
    let mut tell = actor.note(2).tell();
    let mut ask = actor.note(3).into_future();
    assert!(poll_once(&mut tell).is_pending());
    assert!(poll_once(&mut ask).is_pending());
    // The stop is taken once `note(0)` returns: the lane closes then.
    actor.stop();
    gate.send(true).unwrap();
    match no_hang(tell).await {
        Err(TellError::Dead(_)) => {}
        other => panic!("expected Dead, got {other:?}"),
    }
    assert_eq!(no_hang(ask).await, Err(AskError::Dead));
    no_hang(actor.stopped()).await;
    // The system lane came first: 1 waited in the queue and became a dead letter.
    assert_eq!(*seen.lock().unwrap(), [0]);
    no_hang(system.shutdown()).await;
}

/// Arrival order, at most `cap` messages: a plain bounded queue of the user's own.
struct Fifo<M> {
    cap: usize,
    queue: Mutex<VecDeque<Envelope<M>>>,
}

impl<M: Send + 'static> Mailbox<M> for Fifo<M> {
    fn push(&self, envelope: Envelope<M>) -> Push<M> {
        let mut queue = self.queue.lock().unwrap();
        if queue.len() >= self.cap {
            return Push::Full(envelope);
        }
        queue.push_back(envelope);
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<M>> {
        self.queue.lock().unwrap().pop_front()
    }

    fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
}

/// Sums what it is sent.
#[actor(mailbox = Fifo { cap: 3, queue: Default::default() })]
#[derive(Default)]
struct Summer {
    sum: u64,
    count: u64,
}

#[actor]
impl Summer {
    #[handler]
    fn add(&mut self, n: u64) {
        self.sum += n;
        self.count += 1;
    }

    #[handler]
    fn total(&self) -> (u64, u64) {
        (self.count, self.sum)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_senders_through_a_tiny_custom_queue_lose_nothing() {
    let system = ActorSystem::new();
    let summer = no_hang(system.spawn(Summer::default)).await.unwrap();
    let senders: Vec<_> = (0..8u64)
        .map(|s| {
            let summer = summer.clone();
            tokio::spawn(async move {
                for i in 0..5_000u64 {
                    summer.add(s * 5_000 + i).tell().await.unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        no_hang(s).await.unwrap();
    }
    let n = 8 * 5_000u64;
    assert_eq!(no_hang(summer.total()).await, Ok((n, n * (n - 1) / 2)));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_priority_mailbox_can_be_chosen_for_any_actor() {
    let system = ActorSystem::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let props = Props::from_fn(move |n: u32| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(n);
        }
    })
    .mailbox_with(|| PriorityMailbox::new(MailboxConfig::Unbounded));
    let echo = no_hang(system.spawn_props(props)).await.unwrap();
    // Closure actors declare no levels: every message is normal, in arrival order.
    for n in 0..100 {
        echo.try_tell(n).unwrap();
    }
    for n in 0..100 {
        assert_eq!(no_hang(rx.recv()).await, Some(n));
    }
    no_hang(system.shutdown()).await;
}

/// A queue that panics in `push` on 66 and in `pop` once it holds 99.
#[derive(Default)]
struct Brittle(Mutex<VecDeque<Envelope<BrittleUserMsg>>>);

impl Mailbox<BrittleUserMsg> for Brittle {
    fn push(&self, envelope: Envelope<BrittleUserMsg>) -> Push<BrittleUserMsg> {
        if let BrittleUserMsg::Take { n: 66, .. } = envelope.message() {
            panic!("brittle push");
        }
        self.0.lock().unwrap().push_back(envelope);
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<BrittleUserMsg>> {
        let next = self.0.lock().unwrap().pop_front()?;
        if let BrittleUserMsg::Take { n: 99, .. } = next.message() {
            panic!("brittle pop");
        }
        Some(next)
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[actor(mailbox = Brittle)]
#[derive(Default)]
struct BrittleUser;

#[actor]
impl BrittleUser {
    #[handler]
    fn take(&mut self, n: u32) -> u32 {
        n
    }
}

#[tokio::test]
async fn a_panicking_queue_reaches_its_caller_or_stops_the_actor_never_a_hang() {
    let _quiet = common::quiet_panics("brittle");
    let system = ActorSystem::new();
    let actor = no_hang(system.spawn(BrittleUser::default)).await.unwrap();
    // A panic in `push` unwinds into the sender, and leaves the lane usable.
    let a = actor.clone();
    let pushed = tokio::spawn(async move { a.take(66).tell().await });
    assert!(no_hang(pushed).await.unwrap_err().is_panic());
    assert_eq!(no_hang(actor.take(1)).await, Ok(1));
    // A panic in `pop` closes the lane and the actor stops; the message's asker hears
    // that it failed (its reply slot went down with the panic).
    assert_eq!(no_hang(actor.take(99)).await, Err(AskError::Failed));
    no_hang(actor.stopped()).await;
    assert!(!actor.is_alive());
    no_hang(system.shutdown()).await;
}
