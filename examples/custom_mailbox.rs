//! Mailboxes of your own: a queue decides what an actor keeps while it is busy.
//!
//! - `DroppingOldest`: bounded; when full, a new message pushes the oldest out. The
//!   dropped ones are counted and published as dead letters (their askers get an error),
//!   never lost silently. For telemetry, where the newest readings matter.
//! - `Coalescing`: one queued message per key; a newer one replaces the queued one in
//!   place. For prices or positions, where only the latest value per symbol matters.
//!
//! Both are a `Mutex<VecDeque<..>>` with a rule: the runtime around a [`Mailbox`] does the
//! waking, the dead letters, the priorities of the system lane and the stopping.
//!
//! Run with `cargo run --example custom_mailbox`; `cargo test --example custom_mailbox`
//! runs its tests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bactor::mailbox::{Envelope, Mailbox, Push};
use bactor::prelude::*;
use tokio::sync::{mpsc, oneshot};

/// Keeps the newest `capacity` messages: a push into a full queue drops the oldest.
struct DroppingOldest<M> {
    capacity: usize,
    queue: Mutex<VecDeque<Envelope<M>>>,
    dropped: Option<&'static AtomicU64>,
}

impl<M> DroppingOldest<M> {
    /// A queue of at most `capacity` messages (at least one).
    fn new(capacity: usize) -> Self {
        DroppingOldest {
            capacity: capacity.max(1),
            queue: Mutex::new(VecDeque::new()),
            dropped: None,
        }
    }

    /// Counts the drops in `counter` (the runtime also publishes each as a dead letter).
    fn counting_into(mut self, counter: &'static AtomicU64) -> Self {
        self.dropped = Some(counter);
        self
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Envelope<M>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<M: Send + 'static> Mailbox<M> for DroppingOldest<M> {
    fn push(&self, envelope: Envelope<M>) -> Push<M> {
        let mut queue = self.queue();
        queue.push_back(envelope);
        if queue.len() <= self.capacity {
            return Push::Queued;
        }
        match queue.pop_front() {
            Some(oldest) => {
                if let Some(counter) = self.dropped {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                Push::Dropped(oldest)
            }
            None => Push::Queued,
        }
    }

    fn pop(&self) -> Option<Envelope<M>> {
        self.queue().pop_front()
    }

    fn len(&self) -> usize {
        self.queue().len()
    }
}

/// At most one queued message per key: a newer message with the same key takes the
/// queued one's place (keeping its position in line). Messages without a key queue as
/// usual.
struct Coalescing<M, K> {
    key: fn(&M) -> Option<K>,
    queue: Mutex<VecDeque<Envelope<M>>>,
}

impl<M, K> Coalescing<M, K> {
    /// Coalesces by `key`.
    fn new(key: fn(&M) -> Option<K>) -> Self {
        Coalescing {
            key,
            queue: Mutex::new(VecDeque::new()),
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Envelope<M>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<M: Send + 'static, K: PartialEq + Send + 'static> Mailbox<M> for Coalescing<M, K> {
    fn push(&self, envelope: Envelope<M>) -> Push<M> {
        let mut queue = self.queue();
        if let Some(key) = (self.key)(envelope.message()) {
            let same = queue
                .iter_mut()
                .find(|queued| (self.key)(queued.message()).as_ref() == Some(&key));
            if let Some(queued) = same {
                // The older one becomes a dead letter.
                return Push::Dropped(std::mem::replace(queued, envelope));
            }
        }
        queue.push_back(envelope);
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<M>> {
        self.queue().pop_front()
    }

    fn len(&self) -> usize {
        self.queue().len()
    }
}

/// Readings the telemetry mailboxes dropped, all actors together.
static TELEMETRY_DROPS: AtomicU64 = AtomicU64::new(0);

/// Sensor readings, passed on to `sink`: only the newest four wait while the actor is
/// busy.
#[actor(mailbox = DroppingOldest::new(4).counting_into(&TELEMETRY_DROPS))]
struct Telemetry {
    sink: mpsc::UnboundedSender<u32>,
}

#[actor]
impl Telemetry {
    /// Says it holds the actor, then holds it until `gate` fires (or is dropped):
    /// messages pile up meanwhile.
    #[handler]
    async fn hold(&mut self, held: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = held.send(());
        let _ = gate.await;
    }

    #[handler]
    fn reading(&mut self, value: u32) {
        let _ = self.sink.send(value);
    }

    #[handler]
    fn ping(&self) {}
}

/// Prices: the latest one per symbol, however many arrived while the actor was busy.
#[actor(mailbox = Coalescing::new(QuotesMsg::symbol))]
#[derive(Default)]
struct Quotes {
    seen: Vec<(String, u64)>,
}

impl QuotesMsg {
    /// The key prices coalesce by; other messages have none.
    fn symbol(&self) -> Option<String> {
        match self {
            QuotesMsg::Price { symbol, .. } => Some(symbol.clone()),
            _ => None,
        }
    }
}

#[actor]
impl Quotes {
    #[handler]
    async fn hold(&mut self, held: oneshot::Sender<()>, gate: oneshot::Receiver<()>) {
        let _ = held.send(());
        let _ = gate.await;
    }

    #[handler]
    fn price(&mut self, symbol: String, cents: u64) {
        self.seen.push((symbol, cents));
    }

    #[handler]
    fn seen(&self) -> Vec<(String, u64)> {
        self.seen.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let mut dead = system
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::DeadLetter(_)));

    // Ten readings while the actor is busy: the newest four are handled.
    let (sink, mut handled) = mpsc::unbounded_channel();
    let telemetry = system
        .spawn(move || Telemetry { sink: sink.clone() })
        .await?;
    let (open, gate) = oneshot::channel();
    let (held, is_held) = oneshot::channel();
    telemetry.hold(held, gate).tell().await?;
    is_held.await?;
    for value in 1..=10 {
        telemetry.reading(value).tell().await?;
    }
    let _ = open.send(());
    // Handles what its queue kept, then stops (the stop itself is not a message that
    // could push one out).
    telemetry.stop_gracefully().await;
    let mut readings = Vec::new();
    while let Ok(value) = handled.try_recv() {
        readings.push(value);
    }
    println!(
        "telemetry handled {readings:?}, dropped {}",
        TELEMETRY_DROPS.load(Ordering::Relaxed)
    );

    // Twelve prices for three symbols: the latest of each is handled, in first-seen order.
    let quotes = system.spawn(Quotes::default).await?;
    let (open, gate) = oneshot::channel();
    let (held, is_held) = oneshot::channel();
    quotes.hold(held, gate).tell().await?;
    is_held.await?;
    for round in 0..4u64 {
        for symbol in ["ACME", "GLOBEX", "INITECH"] {
            quotes.price(symbol.into(), 100 * round + 7).tell().await?;
        }
    }
    let _ = open.send(());
    println!("quotes handled {:?}", quotes.seen().await?);

    // Every message a queue dropped was published, once.
    let mut drops = 0;
    while let Ok(Some(SystemEvent::DeadLetter(letter))) =
        tokio::time::timeout(std::time::Duration::from_millis(100), dead.recv()).await
    {
        drops += 1;
        let _ = letter;
    }
    println!("{drops} messages dropped by the mailboxes, each a dead letter");
    system.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<M: Send + 'static>(queue: &impl Mailbox<M>) -> Vec<M> {
        std::iter::from_fn(|| queue.pop().map(Envelope::into_message)).collect()
    }

    #[test]
    fn dropping_oldest_keeps_the_newest_and_counts_the_rest() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let queue = DroppingOldest::new(3).counting_into(&COUNTER);
        let mut dropped = Vec::new();
        for n in 1..=7u32 {
            match queue.push(Envelope::new(n)) {
                Push::Queued => {}
                Push::Dropped(old) => dropped.push(old.into_message()),
                Push::Full(_) => panic!("a dropping queue is never full"),
            }
        }
        assert_eq!(dropped, [1, 2, 3, 4]);
        assert_eq!(COUNTER.load(Ordering::Relaxed), 4);
        assert_eq!(queue.len(), 3);
        assert_eq!(drain(&queue), [5, 6, 7]);
    }

    #[test]
    fn coalescing_keeps_one_per_key_in_first_seen_order() {
        let queue = Coalescing::new(|m: &(&str, u32)| (!m.0.is_empty()).then_some(m.0));
        let mut dropped = Vec::new();
        for m in [
            ("a", 1),
            ("b", 1),
            ("", 1),
            ("a", 2),
            ("", 2),
            ("b", 2),
            ("a", 3),
        ] {
            if let Push::Dropped(old) = queue.push(Envelope::new(m)) {
                dropped.push(old.into_message());
            }
        }
        // Keyless messages are never coalesced.
        assert_eq!(drain(&queue), [("a", 3), ("b", 2), ("", 1), ("", 2)]);
        assert_eq!(dropped, [("a", 1), ("b", 1), ("a", 2)]);
    }

    /// The dead letters published for `pid`, until none comes for a while.
    async fn dead_letters(events: &mut bactor::Subscription, pid: Pid) -> usize {
        let mut n = 0;
        while let Ok(Some(SystemEvent::DeadLetter(letter))) =
            tokio::time::timeout(std::time::Duration::from_millis(200), events.recv()).await
        {
            assert_eq!(letter.recipient, pid);
            n += 1;
        }
        n
    }

    #[tokio::test]
    async fn a_busy_telemetry_actor_handles_the_newest_readings_and_publishes_the_drops() {
        let system = ActorSystem::new();
        let mut dead = system
            .events()
            .subscribe_filtered(|e| matches!(e, SystemEvent::DeadLetter(_)));
        let (sink, mut handled) = mpsc::unbounded_channel();
        let telemetry = system
            .spawn(move || Telemetry { sink: sink.clone() })
            .await
            .unwrap();
        let (open, gate) = oneshot::channel();
        let (held, is_held) = oneshot::channel();
        telemetry.hold(held, gate).tell().await.unwrap();
        is_held.await.unwrap();
        // An ask that gets dropped hears of it instead of waiting forever.
        // Polled once, it is queued, ahead of the readings.
        let mut asked = std::pin::pin!(std::future::IntoFuture::into_future(telemetry.ping()));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(asked.as_mut().poll(&mut cx).is_pending());
        for value in 1..=10 {
            telemetry.reading(value).tell().await.unwrap();
        }
        assert_eq!(asked.await, Err(AskError::NoReply));
        let _ = open.send(());
        telemetry.stop_gracefully().await;
        let mut readings = Vec::new();
        while let Ok(value) = handled.try_recv() {
            readings.push(value);
        }
        assert_eq!(readings, [7, 8, 9, 10]);
        // The ask and six readings were dropped, each published once.
        assert_eq!(dead_letters(&mut dead, telemetry.pid()).await, 7);
        system.shutdown().await;
    }

    #[tokio::test]
    async fn a_busy_quotes_actor_handles_the_latest_price_per_symbol() {
        let system = ActorSystem::new();
        let mut dead = system
            .events()
            .subscribe_filtered(|e| matches!(e, SystemEvent::DeadLetter(_)));
        let quotes = system.spawn(Quotes::default).await.unwrap();
        let (open, gate) = oneshot::channel();
        let (held, is_held) = oneshot::channel();
        quotes.hold(held, gate).tell().await.unwrap();
        is_held.await.unwrap();
        for round in 0..4u64 {
            for symbol in ["ACME", "GLOBEX"] {
                quotes.price(symbol.into(), round).tell().await.unwrap();
            }
        }
        let _ = open.send(());
        assert_eq!(
            quotes.seen().await.unwrap(),
            [("ACME".to_string(), 3), ("GLOBEX".to_string(), 3)]
        );
        assert_eq!(dead_letters(&mut dead, quotes.pid()).await, 6);
        system.shutdown().await;
    }
}
