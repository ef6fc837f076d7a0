//! `persist_deferred`: one busy persistent actor keeps a stream of events in flight,
//! replies are held until their events are durable, a failed write fails every held reply
//! and restarts the actor from the journal.
#![cfg(feature = "persist")]

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bactor::persist::{
    BoxFuture, EventRecord, Journal, MemoryStore, NewEvent, SnapshotCriteria, SnapshotRecord,
    SnapshotStore, SqliteStore, StoreError,
};
use bactor::prelude::*;
use serde::{Deserialize, Serialize};

mod common;
use common::{no_hang, poll_once};

#[actor]
#[persistent(snapshot_every = 50)]
#[derive(Default, Serialize, Deserialize)]
struct Tally {
    sum: u64,
    count: u64,
}

#[actor]
impl Tally {
    /// Deferred: the reply waits for the event, the actor does not.
    #[handler]
    fn add(&mut self, ctx: &mut Context<Self>, n: u64) -> Result<u64, PersistError> {
        self.persist_deferred(ctx, TallyEvent::Added { n })?;
        Ok(self.sum)
    }

    /// The ordinary, waiting persist.
    #[handler]
    async fn add_now(&mut self, ctx: &mut Context<Self>, n: u64) -> Result<u64, PersistError> {
        self.persist(ctx, TallyEvent::Added { n }).await?;
        Ok(self.sum)
    }

    /// Reads the state: held too while events are not durable.
    #[handler]
    fn totals(&self, ctx: &mut Context<Self>) -> (u64, u64, u64) {
        (self.sum, self.count, ctx.last_sequence_nr())
    }

    #[event]
    fn added(&mut self, n: u64) {
        self.sum += n;
        self.count += 1;
    }
}

/// A journal whose appends can be held back (`closed`) or failed (`failing`), counting
/// the appends it receives.
#[derive(Clone, Default)]
struct Gated {
    inner: MemoryStore,
    closed: Arc<AtomicBool>,
    failing: Arc<AtomicBool>,
    open: Arc<tokio::sync::Notify>,
    appends: Arc<AtomicU64>,
}

impl Gated {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn reopen(&self) {
        self.closed.store(false, Ordering::SeqCst);
        self.open.notify_waiters();
    }
}

type Fut<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

impl Journal for Gated {
    fn append<'a>(&'a self, id: &'a str, expected: u64, events: Vec<NewEvent>) -> Fut<'a, u64> {
        Box::pin(async move {
            self.appends.fetch_add(1, Ordering::SeqCst);
            loop {
                let opened = self.open.notified();
                if !self.closed.load(Ordering::SeqCst) {
                    break;
                }
                opened.await;
            }
            if self.failing.load(Ordering::SeqCst) {
                return Err(StoreError::Backend(Arc::new(std::io::Error::other(
                    "the disk is full",
                ))));
            }
            self.inner.append(id, expected, events).await
        })
    }

    fn replay<'a>(
        &'a self,
        id: &'a str,
        from: u64,
        to: u64,
        max: u64,
    ) -> Fut<'a, Vec<EventRecord>> {
        self.inner.replay(id, from, to, max)
    }

    fn highest_sequence_nr<'a>(&'a self, id: &'a str) -> Fut<'a, u64> {
        self.inner.highest_sequence_nr(id)
    }

    fn delete_to<'a>(&'a self, id: &'a str, to: u64) -> Fut<'a, ()> {
        self.inner.delete_to(id, to)
    }
}

impl SnapshotStore for Gated {
    fn save<'a>(&'a self, snapshot: SnapshotRecord) -> Fut<'a, ()> {
        self.inner.save(snapshot)
    }

    fn load<'a>(&'a self, id: &'a str, c: SnapshotCriteria) -> Fut<'a, Option<SnapshotRecord>> {
        self.inner.load(id, c)
    }

    fn delete<'a>(&'a self, id: &'a str, seq: u64) -> Fut<'a, ()> {
        SnapshotStore::delete(&self.inner, id, seq)
    }

    fn delete_matching<'a>(&'a self, id: &'a str, c: SnapshotCriteria) -> Fut<'a, ()> {
        self.inner.delete_matching(id, c)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_share_writes_and_every_acknowledged_event_is_recovered() {
    let store = SqliteStore::in_memory().await.unwrap();
    let system = ActorSystem::builder().persistence(store.clone()).build();
    let tally = no_hang(system.spawn_persistent("hot", Tally::default))
        .await
        .unwrap();
    let callers: Vec<_> = (0..50)
        .map(|c| {
            let tally = tally.clone();
            tokio::spawn(async move {
                for i in 0..100u64 {
                    let sum = tally.add(c * 100 + i).await.expect("acknowledged");
                    assert!(sum >= c * 100 + i, "the reply reflects the event");
                }
            })
        })
        .collect();
    for c in callers {
        no_hang(c).await.unwrap();
    }
    let expected_sum: u64 = (0..5000).sum();
    assert_eq!(
        no_hang(tally.totals()).await.unwrap(),
        (expected_sum, 5000, 5000)
    );
    let stats = store.commit_stats();
    assert!(
        stats.appends < 2500,
        "consecutive messages share writes: {stats:?}"
    );
    tally.stop();
    no_hang(tally.stopped()).await;
    let again = no_hang(system.spawn_persistent("hot", Tally::default))
        .await
        .unwrap();
    assert_eq!(
        no_hang(again.totals()).await.unwrap(),
        (expected_sum, 5000, 5000)
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reply_is_sent_before_its_event_is_durable() {
    let store = Gated::default();
    let system = ActorSystem::builder().persistence(store.clone()).build();
    let tally = no_hang(system.spawn_persistent("gated", Tally::default))
        .await
        .unwrap();
    store.close();
    let mut first = Box::pin(tally.add(5).into_future());
    assert!(poll_once(&mut first).is_pending());
    // The actor goes on serving: this read is handled, but its reply (which shows the
    // undurable event) is held too, as is the second add's.
    let mut read = Box::pin(tally.totals().into_future());
    let mut second = Box::pin(tally.add(7).into_future());
    assert!(poll_once(&mut read).is_pending());
    assert!(poll_once(&mut second).is_pending());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(poll_once(&mut first).is_pending(), "held while not durable");
    assert!(poll_once(&mut read).is_pending(), "held while not durable");
    assert!(
        poll_once(&mut second).is_pending(),
        "held while not durable"
    );
    assert_eq!(store.inner.highest_sequence_nr("gated").await.unwrap(), 0);
    store.reopen();
    assert_eq!(no_hang(first).await.unwrap(), 5);
    assert_eq!(no_hang(read).await.unwrap(), (5, 1, 1));
    assert_eq!(no_hang(second).await.unwrap(), 12);
    assert_eq!(store.inner.highest_sequence_nr("gated").await.unwrap(), 2);
    // The second event waited for the first write: one write in flight at a time.
    assert_eq!(store.appends.load(Ordering::SeqCst), 2);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_fails_every_held_reply_and_recovers_from_the_journal() {
    let store = Gated::default();
    let system = ActorSystem::builder().persistence(store.clone()).build();
    let tally = no_hang(system.spawn_persistent("failing", Tally::default))
        .await
        .unwrap();
    assert_eq!(no_hang(tally.add(1)).await.unwrap(), 1);
    let mut events = system.events().subscribe();
    store.close();
    store.failing.store(true, Ordering::SeqCst);
    let asks: Vec<_> = (0..5)
        .map(|_| Box::pin(tally.add(10).into_future()))
        .collect();
    let mut asks: Vec<_> = asks
        .into_iter()
        .map(|mut a| {
            assert!(poll_once(&mut a).is_pending());
            a
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    store.reopen();
    for a in asks.drain(..) {
        match no_hang(a).await {
            Err(AskError::Failed) => {}
            other => panic!("expected the ask to fail with the write, got {other:?}"),
        }
    }
    // The actor failed and was restarted; recovery reloaded the journal: none of the
    // failed events are in its state.
    loop {
        match no_hang(events.recv()).await.unwrap() {
            bactor::SystemEvent::ActorRestarted { .. } => break,
            _ => continue,
        }
    }
    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(no_hang(tally.totals()).await.unwrap(), (1, 1, 1));
    assert_eq!(no_hang(tally.add(2)).await.unwrap(), 3);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_persist_comes_after_the_deferred_events() {
    let store = MemoryStore::new();
    let system = ActorSystem::builder().persistence(store.clone()).build();
    let tally = no_hang(system.spawn_persistent("mixed", Tally::default))
        .await
        .unwrap();
    let a = tally.add(1);
    let b = tally.add(2);
    let c = tally.add_now(4);
    let (a, b, c) = no_hang(async { tokio::join!(a, b, c) }).await;
    assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (1, 3, 7));
    let events = store.replay("mixed", 1, u64::MAX, 10).await.unwrap();
    let payloads: Vec<&str> = events.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(
        payloads,
        [
            r#"{"Added":{"n":1}}"#,
            r#"{"Added":{"n":2}}"#,
            r#"{"Added":{"n":4}}"#
        ]
    );
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_writes_the_deferred_events_first() {
    let store = Gated::default();
    let system = ActorSystem::builder().persistence(store.clone()).build();
    let tally = no_hang(system.spawn_persistent("stopping", Tally::default))
        .await
        .unwrap();
    store.close();
    let mut asks: Vec<_> = (1..=3)
        .map(|n| Box::pin(tally.add(n).into_future()))
        .collect();
    for a in &mut asks {
        assert!(poll_once(a).is_pending());
    }
    // Let the actor apply all three before the stop overtakes the mailbox.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    tally.stop();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    store.reopen();
    no_hang(tally.stopped()).await;
    let replies: Vec<u64> = futures_replies(asks).await;
    assert_eq!(replies, [1, 3, 6]);
    assert_eq!(
        store.inner.highest_sequence_nr("stopping").await.unwrap(),
        3
    );
    let again = no_hang(system.spawn_persistent("stopping", Tally::default))
        .await
        .unwrap();
    assert_eq!(no_hang(again.totals()).await.unwrap(), (6, 3, 3));
    system.shutdown().await;
}

async fn futures_replies<F>(asks: Vec<std::pin::Pin<Box<F>>>) -> Vec<u64>
where
    F: std::future::Future<Output = Result<u64, AskError<PersistError>>>,
{
    let mut out = Vec::new();
    for a in asks {
        out.push(no_hang(a).await.expect("acknowledged"));
    }
    out
}
