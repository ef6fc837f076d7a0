//! Mailbox semantics: ordering, the system lane, back-pressure, asks and stops.

use std::sync::Arc;
use std::time::Duration;

use bactor::prelude::*;
use bactor::{LookupError, TellError};
use tokio::sync::{Mutex, mpsc, watch};

/// Guards against hangs only; no assertion depends on wall-clock speed.
mod common;
use common::{no_hang, poll_once};
use std::future::IntoFuture;

/// An actor whose `work` handler reports that it started and then waits for a gate, so
/// tests can pile messages up behind it.
#[actor(mailbox = 2)]
struct Worker {
    started: mpsc::UnboundedSender<u32>,
    gate: watch::Receiver<bool>,
    done: Arc<Mutex<Vec<u32>>>,
}

#[actor]
impl Worker {
    #[handler]
    async fn work(&mut self, n: u32) -> u32 {
        let _ = self.started.send(n);
        let _ = self.gate.wait_for(|open| *open).await;
        self.done.lock().await.push(n);
        n
    }
}

struct Rig {
    system: ActorSystem,
    worker: WorkerRef,
    started: mpsc::UnboundedReceiver<u32>,
    gate: watch::Sender<bool>,
    done: Arc<Mutex<Vec<u32>>>,
}

async fn rig() -> Rig {
    let system = ActorSystem::new();
    let (started_tx, started) = mpsc::unbounded_channel();
    let (gate, gate_rx) = watch::channel(false);
    let done = Arc::new(Mutex::new(Vec::new()));
    let d = done.clone();
    let worker = system
        .spawn(move || Worker {
            started: started_tx.clone(),
            gate: gate_rx.clone(),
            done: d.clone(),
        })
        .await
        .unwrap();
    Rig {
        system,
        worker,
        started,
        gate,
        done,
    }
}

#[tokio::test]
async fn bounded_mailbox_pushes_back_and_try_tell_returns_the_message() {
    let mut r = no_hang(rig()).await;
    no_hang(r.worker.work(1).tell()).await.unwrap();
    assert_eq!(no_hang(r.started.recv()).await, Some(1)); // 1 is being handled
    r.worker.work(2).try_tell().unwrap();
    r.worker.work(3).try_tell().unwrap(); // the mailbox (2) is now full
    match r.worker.work(4).try_tell() {
        Err(TellError::Full(msg)) => {
            assert!(format!("{msg:?}").contains("WorkerMsg::Work"));
            // The message handed back is whole: send it again later. `tell` waits for
            // room instead of failing or dropping.
            let mut pending = r.worker.tell(msg);
            assert!(
                poll_once(&mut pending).is_pending(),
                "tell must wait while the mailbox is full"
            );
            assert!(poll_once(&mut pending).is_pending(), "still full");
            r.gate.send(true).unwrap();
            no_hang(pending).await.unwrap();
        }
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(no_hang(r.worker.work(5)).await.unwrap(), 5);
    assert_eq!(*r.done.lock().await, vec![1, 2, 3, 4, 5]);
    no_hang(r.system.shutdown()).await;
}

#[tokio::test]
async fn stop_overtakes_queued_user_messages() {
    let mut r = no_hang(rig()).await;
    let mut events = r
        .system
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::DeadLetter(_)));
    no_hang(r.worker.work(1).tell()).await.unwrap();
    assert_eq!(no_hang(r.started.recv()).await, Some(1));
    // Two asks queue behind the message being handled (pushed by their first poll).
    let mut ask2 = r.worker.work(2).into_future();
    let mut ask3 = r.worker.work(3).into_future();
    assert!(poll_once(&mut ask2).is_pending());
    assert!(poll_once(&mut ask3).is_pending());
    // The mailbox (capacity 2) holds both asks: a probe is handed back.
    assert!(r.worker.work(0).try_tell().unwrap_err().is_full());
    r.worker.stop();
    r.gate.send(true).unwrap();
    no_hang(r.worker.stopped()).await;
    // Only the message in progress was handled; the queued ones were not.
    assert_eq!(*r.done.lock().await, vec![1]);
    assert_eq!(no_hang(ask2).await, Err(AskError::NoReply));
    assert_eq!(no_hang(ask3).await, Err(AskError::NoReply));
    for _ in 0..2 {
        match no_hang(events.recv()).await {
            Some(SystemEvent::DeadLetter(d)) => {
                assert_eq!(d.recipient, r.worker.pid());
                assert_eq!(d.message, "Worker::work");
            }
            other => panic!("expected a dead letter, got {other:?}"),
        }
    }
    no_hang(r.system.shutdown()).await;
}

#[tokio::test]
async fn ask_times_out_without_losing_the_actor() {
    let mut r = no_hang(rig()).await;
    let res = no_hang(r.worker.work(1).timeout(Duration::from_millis(30))).await;
    assert_eq!(res, Err(AskError::Timeout));
    assert_eq!(no_hang(r.started.recv()).await, Some(1));
    r.gate.send(true).unwrap();
    // The timed-out message was still handled; the actor is fine.
    assert_eq!(no_hang(r.worker.work(2)).await, Ok(2));
    assert_eq!(*r.done.lock().await, vec![1, 2]);
    no_hang(r.system.shutdown()).await;
}

#[tokio::test]
async fn ask_to_a_stopped_actor_fails_at_once() {
    let r = no_hang(rig()).await;
    r.worker.stop();
    no_hang(r.worker.stopped()).await;
    assert!(!r.worker.is_alive());
    // `Dead` comes back without any timeout being involved.
    assert_eq!(no_hang(r.worker.work(1)).await, Err(AskError::Dead));
    assert_eq!(
        no_hang(r.worker.work(1).timeout(Duration::from_secs(3600))).await,
        Err(AskError::Dead)
    );
    match no_hang(r.worker.work(2).tell()).await {
        Err(TellError::Dead(_)) => {}
        other => panic!("expected Dead, got {other:?}"),
    }
    assert!(r.worker.work(3).try_tell().unwrap_err().is_dead());
    no_hang(r.system.shutdown()).await;
}

#[tokio::test]
async fn unknown_pid_resolves_to_an_error() {
    let r = no_hang(rig()).await;
    let unknown = bactor::Pid::new(0, 9_999, r.system.incarnation());
    assert!(matches!(
        r.system.resolve::<Worker>(unknown),
        Err(LookupError::NotFound(_))
    ));
    // A pid from another incarnation never reaches this system's actors.
    let stale = bactor::Pid::new(0, r.worker.pid().id(), r.system.incarnation() ^ 1);
    assert!(r.system.resolve::<Worker>(stale).is_err());
    assert_eq!(
        r.system.resolve::<Worker>(r.worker.pid()).unwrap(),
        r.worker
    );
    no_hang(r.system.shutdown()).await;
}

#[tokio::test]
async fn graceful_stop_handles_what_was_queued_first() {
    let mut r = no_hang(rig()).await;
    no_hang(r.worker.work(1).tell()).await.unwrap();
    assert_eq!(no_hang(r.started.recv()).await, Some(1));
    r.worker.work(2).try_tell().unwrap();
    let w = r.worker.clone();
    let stopping = tokio::spawn(async move { no_hang(w.stop_gracefully()).await });
    r.gate.send(true).unwrap();
    no_hang(stopping).await.unwrap();
    assert_eq!(*r.done.lock().await, vec![1, 2]);
    assert_eq!(no_hang(r.worker.work(3)).await, Err(AskError::Dead));
    no_hang(r.system.shutdown()).await;
}

/// Records `(sender, seq)` pairs and counts order violations per sender.
#[actor(mailbox = 16)]
#[derive(Default)]
struct Recorder {
    last: std::collections::HashMap<u32, u32>,
    violations: u32,
    total: u32,
}

#[actor]
impl Recorder {
    #[handler]
    fn record(&mut self, sender: u32, seq: u32) {
        if let Some(prev) = self.last.insert(sender, seq) {
            if prev + 1 != seq {
                self.violations += 1;
            }
        } else if seq != 0 {
            self.violations += 1;
        }
        self.total += 1;
    }

    #[handler]
    fn report(&self) -> (u32, u32) {
        (self.violations, self.total)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_one_sender_arrive_in_send_order() {
    let system = ActorSystem::new();
    let rec = no_hang(system.spawn(Recorder::default)).await.unwrap();
    let mut senders = Vec::new();
    for s in 0..4 {
        let rec = rec.clone();
        senders.push(tokio::spawn(async move {
            for seq in 0..5_000 {
                no_hang(rec.record(s, seq).tell()).await.unwrap();
            }
        }));
    }
    for s in senders {
        no_hang(s).await.unwrap();
    }
    assert_eq!(no_hang(rec.report()).await.unwrap(), (0, 20_000));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn unbounded_mailbox_never_waits() {
    let system = ActorSystem::new();
    let rec = no_hang(
        system
            .spawn_props(Props::from_producer(Recorder::default).mailbox(MailboxConfig::Unbounded)),
    )
    .await
    .unwrap();
    // Far more than the type's bounded capacity (16), without awaiting the actor.
    for seq in 0..10_000 {
        rec.record(0, seq).try_tell().unwrap();
    }
    assert_eq!(no_hang(rec.report()).await.unwrap(), (0, 10_000));
    no_hang(system.shutdown()).await;
}

/// Each actor yields after `throughput` messages, so a flood sent to one actor does not
/// starve another actor on the same thread.
#[actor(throughput = 10, mailbox = unbounded)]
struct Busy {
    shared: Arc<std::sync::atomic::AtomicU64>,
}

#[actor]
impl Busy {
    #[handler]
    fn spin(&mut self) {
        self.shared
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many spins the other actor had handled when this ran.
    #[handler]
    fn peek(&self) -> u64 {
        self.shared.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn throughput_bounds_a_turn() {
    let system = ActorSystem::new();
    let shared = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s = shared.clone();
    let busy = no_hang(system.spawn(move || Busy { shared: s.clone() }))
        .await
        .unwrap();
    let s = shared.clone();
    let other = no_hang(system.spawn(move || Busy { shared: s.clone() }))
        .await
        .unwrap();
    for _ in 0..10_000 {
        busy.spin().try_tell().unwrap();
    }
    let seen = no_hang(other.peek()).await.unwrap();
    assert!(
        seen <= 20,
        "`other` waited for {seen} messages of `busy`, more than two turns"
    );
    assert_eq!(no_hang(busy.peek()).await.unwrap(), 10_000);
    no_hang(system.shutdown()).await;
}

/// An actor with a high-priority handler: urgent messages overtake queued ordinary ones.
#[actor(mailbox = 16)]
struct Triage {
    gate: watch::Receiver<bool>,
    started: mpsc::UnboundedSender<()>,
    order: Arc<Mutex<Vec<String>>>,
}

#[actor]
impl Triage {
    #[handler]
    async fn routine(&mut self, n: u32) {
        if n == 0 {
            let _ = self.started.send(());
            let _ = self.gate.wait_for(|open| *open).await;
        }
        self.order.lock().await.push(format!("routine {n}"));
    }

    #[handler(priority = high)]
    async fn urgent(&mut self, n: u32) -> u32 {
        self.order.lock().await.push(format!("urgent {n}"));
        n
    }
}

#[tokio::test]
async fn high_priority_messages_overtake_queued_ones() {
    let system = ActorSystem::new();
    let (gate, gate_rx) = watch::channel(false);
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let t = no_hang(system.spawn(move || Triage {
        gate: gate_rx.clone(),
        started: started_tx.clone(),
        order: o.clone(),
    }))
    .await
    .unwrap();
    no_hang(t.routine(0).tell()).await.unwrap();
    no_hang(started.recv()).await.unwrap(); // routine 0 is being handled
    for n in 1..=3 {
        no_hang(t.routine(n).tell()).await.unwrap();
    }
    no_hang(t.urgent(1).tell()).await.unwrap();
    let mut urgent = t.urgent(2).into_future();
    // Queued on the high lane, and not answered while routine 0 holds the actor.
    assert!(poll_once(&mut urgent).is_pending());
    assert!(
        order.lock().await.is_empty(),
        "routine 0 still waits at the gate"
    );
    gate.send(true).unwrap();
    assert_eq!(no_hang(urgent).await, Ok(2));
    // A request can also be sent on the high lane explicitly.
    no_hang(t.routine(9).high_priority().tell()).await.unwrap();
    no_hang(t.urgent(3)).await.unwrap();
    let seen = order.lock().await.clone();
    assert_eq!(
        seen,
        [
            "routine 0",
            "urgent 1",
            "urgent 2",
            "routine 1",
            "routine 2",
            "routine 3",
            "routine 9",
            "urgent 3"
        ]
    );
    no_hang(system.shutdown()).await;
}

/// Holds an actor in its first message until the gate opens.
#[derive(Clone)]
struct Gate {
    gate: watch::Receiver<bool>,
    started: mpsc::UnboundedSender<()>,
}

impl Gate {
    async fn hold(&mut self) {
        let _ = self.started.send(());
        let _ = self.gate.wait_for(|open| *open).await;
    }
}

/// `hold` blocks it; `noop` fills the mailbox. Its type chooses no mailbox.
#[actor]
struct Gated(Gate);

#[actor]
impl Gated {
    #[handler]
    async fn hold(&mut self) {
        self.0.hold().await;
    }

    #[handler]
    fn noop(&self) {}
}

/// The same, with a mailbox and a throughput chosen by its type.
#[actor(mailbox = 8, throughput = 10)]
struct GatedEight(Gate);

#[actor]
impl GatedEight {
    #[handler]
    async fn hold(&mut self) {
        self.0.hold().await;
    }

    #[handler]
    fn noop(&self) {}
}

/// Counts how many messages the mailbox takes while its actor is busy.
macro_rules! capacity {
    ($system:expr, $props:expr) => {{
        let (gate, gate_rx) = watch::channel(false);
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let a = $system
            .spawn_props($props(gate_rx, started_tx))
            .await
            .unwrap();
        a.hold().tell().await.unwrap();
        no_hang(started.recv()).await.unwrap(); // hold is being handled, off the queue
        let mut n = 0usize;
        while n < 100_000 && a.noop().try_tell().is_ok() {
            n += 1;
        }
        gate.send(true).unwrap();
        no_hang(a.noop()).await.unwrap();
        a.stop();
        no_hang(a.stopped()).await;
        n
    }};
}

#[tokio::test]
async fn mailbox_settings_apply_in_order_props_type_system_default() {
    let gated = |gate, started| {
        let g = Gate { gate, started };
        Props::from_producer(move || Gated(g.clone()))
    };
    let eight = |gate, started| {
        let g = Gate { gate, started };
        Props::from_producer(move || GatedEight(g.clone()))
    };
    let plain = ActorSystem::new();
    // Nothing chosen anywhere: the default, bounded at 1024.
    assert_eq!(MailboxConfig::DEFAULT_CAPACITY, 1024);
    assert_eq!(capacity!(plain, gated), 1024);
    // The type's choice beats the default...
    assert_eq!(capacity!(plain, eight), 8);
    // ...and the props' choice beats the type's.
    assert_eq!(
        capacity!(plain, |g, s| eight(g, s).mailbox(MailboxConfig::Bounded(3))),
        3
    );
    no_hang(plain.shutdown()).await;
    // The system's default replaces 1024 for types that choose nothing, and only for them.
    let system = ActorSystem::builder()
        .mailbox(MailboxConfig::Bounded(5))
        .build();
    assert_eq!(capacity!(system, gated), 5);
    assert_eq!(capacity!(system, eight), 8);
    assert_eq!(
        capacity!(system, |g, s| gated(g, s)
            .mailbox(MailboxConfig::Bounded(2))),
        2
    );
    assert_eq!(
        capacity!(system, |g, s| gated(g, s).mailbox(MailboxConfig::Unbounded)),
        100_000
    );
    no_hang(system.shutdown()).await;
}

/// Counts its own messages in a shared counter; `peek` reads it.
#[actor]
struct Spinner {
    shared: Arc<std::sync::atomic::AtomicU64>,
}

#[actor]
impl Spinner {
    #[handler]
    fn spin(&mut self) {
        self.shared
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    #[handler]
    fn peek(&self) -> u64 {
        self.shared.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// How many of `busy`'s 10,000 queued messages ran before `other`, spawned second on the
/// same thread, got its turn: one turn of `busy`.
async fn turn(
    system: &ActorSystem,
    props: impl Fn(Arc<std::sync::atomic::AtomicU64>) -> Props<Spinner>,
) -> u64 {
    let shared = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let busy = system
        .spawn_props(props(shared.clone()).mailbox(MailboxConfig::Unbounded))
        .await
        .unwrap();
    let other = system
        .spawn_props(props(shared.clone()).mailbox(MailboxConfig::Unbounded))
        .await
        .unwrap();
    no_hang(busy.peek()).await.unwrap();
    no_hang(other.peek()).await.unwrap();
    for _ in 0..10_000 {
        busy.spin().try_tell().unwrap();
    }
    let seen = no_hang(other.peek()).await.unwrap();
    assert_eq!(no_hang(busy.peek()).await.unwrap(), 10_000);
    busy.stop();
    other.stop();
    no_hang(busy.stopped()).await;
    no_hang(other.stopped()).await;
    seen
}

fn spinner(shared: Arc<std::sync::atomic::AtomicU64>) -> Props<Spinner> {
    Props::from_producer(move || Spinner {
        shared: shared.clone(),
    })
}

#[tokio::test(flavor = "current_thread")]
async fn throughput_settings_apply_in_order_props_system_default() {
    let plain = ActorSystem::new();
    // The default turn is 300 messages.
    assert_eq!(bactor::DEFAULT_THROUGHPUT, 300);
    // (A turn of `n` lets `other` in after between `n - 1` and `2n` of busy's messages,
    // depending on where the first turn starts.)
    let within = |seen: u64, n: u64| (n - 1..=2 * n).contains(&seen);
    let seen = no_hang(turn(&plain, spinner)).await;
    assert!(within(seen, 300), "default turn: {seen}");
    let seen = no_hang(turn(&plain, |s| spinner(s).throughput(7))).await;
    assert!(within(seen, 7), "props turn: {seen}");
    no_hang(plain.shutdown()).await;
    let system = ActorSystem::builder().throughput(20).build();
    let seen = no_hang(turn(&system, spinner)).await;
    assert!(within(seen, 20), "system turn: {seen}");
    let seen = no_hang(turn(&system, |s| spinner(s).throughput(3))).await;
    assert!(within(seen, 3), "props over system: {seen}");
    no_hang(system.shutdown()).await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_type_throughput_beats_the_system_default() {
    // `Busy` is `#[actor(throughput = 10)]`; the system would give it 100.
    let system = ActorSystem::builder().throughput(100).build();
    let shared = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s = shared.clone();
    let busy = no_hang(system.spawn(move || Busy { shared: s.clone() }))
        .await
        .unwrap();
    let s = shared.clone();
    let other = no_hang(system.spawn(move || Busy { shared: s.clone() }))
        .await
        .unwrap();
    no_hang(other.peek()).await.unwrap();
    for _ in 0..1_000 {
        busy.spin().try_tell().unwrap();
    }
    let seen = no_hang(other.peek()).await.unwrap();
    assert!((9..=20).contains(&seen), "type turn: {seen}");
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn stop_overtakes_queued_high_priority_messages_too() {
    let system = ActorSystem::new();
    let (gate, gate_rx) = watch::channel(false);
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let t = no_hang(system.spawn(move || Triage {
        gate: gate_rx.clone(),
        started: started_tx.clone(),
        order: o.clone(),
    }))
    .await
    .unwrap();
    no_hang(t.routine(0).tell()).await.unwrap();
    no_hang(started.recv()).await.unwrap();
    let mut urgent = t.urgent(1).into_future();
    let mut routine = t.routine(1).into_future();
    assert!(poll_once(&mut urgent).is_pending());
    assert!(poll_once(&mut routine).is_pending());
    t.stop();
    gate.send(true).unwrap();
    no_hang(t.stopped()).await;
    // The system lane comes before both user lanes: neither queued message ran.
    assert_eq!(*order.lock().await, ["routine 0"]);
    assert_eq!(no_hang(urgent).await, Err(AskError::NoReply));
    assert_eq!(no_hang(routine).await, Err(AskError::NoReply));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn every_send_to_a_dead_actor_is_one_dead_letter_and_hands_the_message_back() {
    let mut r = rig().await;
    let mut dead = r
        .system
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::DeadLetter(_)));
    // A tell and an ask waiting for room in a full mailbox when the actor stops.
    no_hang(r.worker.work(1).tell()).await.unwrap();
    assert_eq!(no_hang(r.started.recv()).await, Some(1));
    r.worker.work(2).try_tell().unwrap();
    r.worker.work(3).try_tell().unwrap();
    let mut waiting_tell = r.worker.work(4).tell();
    let mut waiting_ask = r.worker.work(5).into_future();
    assert!(poll_once(&mut waiting_tell).is_pending());
    assert!(poll_once(&mut waiting_ask).is_pending());
    r.worker.stop();
    r.gate.send(true).unwrap();
    no_hang(r.worker.stopped()).await;
    match no_hang(waiting_tell).await {
        Err(TellError::Dead(msg)) => assert!(format!("{msg:?}").contains("WorkerMsg::Work")),
        other => panic!("expected the message back, got {other:?}"),
    }
    assert_eq!(no_hang(waiting_ask).await, Err(AskError::Dead));
    // Every kind of send after the stop.
    assert!(r.worker.work(6).try_tell().unwrap_err().is_dead());
    assert!(matches!(
        no_hang(r.worker.work(7).tell()).await,
        Err(TellError::Dead(_))
    ));
    assert_eq!(no_hang(r.worker.work(8)).await, Err(AskError::Dead));
    assert_eq!(
        no_hang(r.worker.work(9).timeout(Duration::from_secs(3600))).await,
        Err(AskError::Dead)
    );
    let untyped: Result<u32, AskError> = no_hang(r.worker.ask(|reply| WorkerMsg::Work {
        n: 10,
        __bactor_reply: Some(reply),
    }))
    .await;
    assert_eq!(untyped, Err(AskError::Dead));
    // A graceful stop of a stopped actor returns at once and is no dead letter.
    no_hang(r.worker.stop_gracefully()).await;
    // Queued 2, 3 (dropped by the stop), then 4, 5 (waiting), then 6..=10: one dead letter
    // each, in that order, nothing else.
    let mut seen = 0;
    while let Ok(Some(SystemEvent::DeadLetter(d))) =
        tokio::time::timeout(Duration::from_millis(100), dead.recv()).await
    {
        assert_eq!(d.recipient, r.worker.pid());
        assert_eq!(d.message, "Worker::work");
        seen += 1;
    }
    assert_eq!(seen, 9);
    assert_eq!(*r.done.lock().await, vec![1]);
    no_hang(r.system.shutdown()).await;
}

/// Counts what it handles, and the most messages it ever saw queued at once (through the
/// lane's own bound, from the outside: `try_tell` never succeeds beyond it).
#[actor(mailbox = 4)]
#[derive(Default)]
struct Tally {
    seen: u64,
}

#[actor]
impl Tally {
    #[handler]
    async fn add(&mut self) {
        self.seen += 1;
        // Give waiting senders every chance to pile up.
        tokio::task::yield_now().await;
    }

    #[handler]
    fn seen(&self) -> u64 {
        self.seen
    }
}

/// Many senders on two threads against a mailbox of 4: every `tell` waits for room and
/// lands (none lost, none refused), and `try_tell` is refused at the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_bounded_mailbox_under_many_waiting_senders_loses_nothing() {
    let system = ActorSystem::new();
    let tally = system.spawn(Tally::default).await.unwrap();
    let senders: Vec<_> = (0..16)
        .map(|_| {
            let tally = tally.clone();
            tokio::spawn(async move {
                for _ in 0..2_000 {
                    tally.add().tell().await.unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        no_hang(s).await.unwrap();
    }
    assert_eq!(no_hang(tally.seen()).await.unwrap(), 32_000);
    no_hang(system.shutdown()).await;
}

/// With its handler held up, a mailbox of 4 takes exactly 4 more messages.
#[actor(mailbox = 4)]
struct Held {
    started: mpsc::UnboundedSender<()>,
    open: watch::Receiver<bool>,
}

#[actor]
impl Held {
    #[handler]
    async fn wait(&mut self) {
        let _ = self.started.send(());
        let _ = self.open.wait_for(|o| *o).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bound_is_exact() {
    let system = ActorSystem::new();
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (gate, open) = watch::channel(false);
    let held = system
        .spawn(move || Held {
            started: started_tx.clone(),
            open: open.clone(),
        })
        .await
        .unwrap();
    held.wait().tell().await.unwrap();
    no_hang(started.recv()).await.unwrap(); // taken out of the mailbox, being handled
    let mut accepted = 0;
    loop {
        match held.wait().try_tell() {
            Ok(()) => accepted += 1,
            Err(TellError::Full(_)) => break,
            Err(other) => panic!("expected Full, got {other:?}"),
        }
        assert!(accepted <= 4, "the bound never refused");
    }
    assert_eq!(accepted, 4);
    gate.send(true).unwrap();
    for _ in 0..4 {
        no_hang(started.recv()).await.unwrap();
    }
    no_hang(system.shutdown()).await;
}

/// Senders waiting for room in a full mailbox get the message back when the actor stops
/// (they never hang), and a stopped actor's lane refuses at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_waiting_for_room_hear_of_the_stop() {
    let mut r = no_hang(rig()).await;
    no_hang(r.worker.work(1).tell()).await.unwrap();
    assert_eq!(no_hang(r.started.recv()).await, Some(1));
    r.worker.work(2).try_tell().unwrap();
    r.worker.work(3).try_tell().unwrap(); // full
    let waiting: Vec<_> = (10..14)
        .map(|n| {
            let w = r.worker.clone();
            tokio::spawn(async move { w.work(n).tell().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    r.worker.stop();
    r.gate.send(true).unwrap();
    for w in waiting {
        // Either it got in before the stop (and became a dead letter) or it is refused.
        let _ = no_hang(w).await.unwrap();
    }
    no_hang(r.worker.stopped()).await;
    assert!(matches!(
        r.worker.work(99).try_tell(),
        Err(TellError::Dead(_))
    ));
    no_hang(r.system.shutdown()).await;
}
