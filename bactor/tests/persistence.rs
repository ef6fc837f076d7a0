//! Event-sourced actors end to end (feature `persist`):
//! `cargo test -p bactor --features persist --test persistence`.
#![cfg(feature = "persist")]

use bactor::persist::{
    Journal, MemoryStore, NewEvent, SnapshotCriteria, SnapshotStore, SqliteStore,
};
use bactor::prelude::*;
use bactor::{PersistErrorKind, RecoveryError, SystemEvent};
use serde::{Deserialize, Serialize};

mod common;
use common::{decision, no_hang, restarted};

#[derive(Debug, PartialEq, Eq)]
pub struct Insufficient {
    pub balance: u64,
}

#[actor]
#[persistent(snapshot_every = 3, keep_snapshots = 2)]
#[derive(Default, Serialize, Deserialize)]
struct Account {
    balance: u64,
    history: Vec<String>,
}

#[actor]
impl Account {
    #[handler]
    async fn deposit(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, PersistError> {
        self.persist(ctx, AccountEvent::Deposited { amount })
            .await?;
        Ok(self.balance)
    }

    /// Two events, atomically.
    #[handler]
    async fn transfer_in(
        &mut self,
        ctx: &mut Context<Self>,
        a: u64,
        b: u64,
    ) -> Result<u64, PersistError> {
        self.persist_all(
            ctx,
            vec![
                AccountEvent::Deposited { amount: a },
                AccountEvent::Deposited { amount: b },
            ],
        )
        .await?;
        Ok(self.balance)
    }

    #[handler]
    async fn withdraw(
        &mut self,
        ctx: &mut Context<Self>,
        amount: u64,
    ) -> Result<u64, Insufficient> {
        if amount > self.balance {
            return Err(Insufficient {
                balance: self.balance,
            });
        }
        self.persist(
            ctx,
            AccountEvent::Withdrew {
                amount,
                note: format!("-{amount}"),
            },
        )
        .await
        .map_err(|_| Insufficient {
            balance: self.balance,
        })?;
        Ok(self.balance)
    }

    #[handler]
    fn balance(&self, ctx: &mut Context<Self>) -> (u64, u64) {
        (self.balance, ctx.last_sequence_nr())
    }

    #[handler]
    fn crash(&mut self) {
        panic!("crash with balance {}", self.balance);
    }

    #[event]
    fn deposited(&mut self, amount: u64) {
        self.balance += amount;
        self.history.push(format!("+{amount}"));
    }

    #[event]
    fn withdrew(&mut self, amount: u64, note: String) {
        self.balance -= amount;
        self.history.push(note);
    }
}

async fn system_with<S>(store: S) -> ActorSystem
where
    S: bactor::persist::Journal + bactor::persist::SnapshotStore + Clone,
{
    ActorSystem::builder().persistence(store).build()
}

async fn stop(r: &AccountRef) {
    r.stop();
    no_hang(r.stopped()).await;
}

async fn persist_stop_respawn<S>(store: S)
where
    S: Journal + SnapshotStore + Clone,
{
    let system = system_with(store).await;
    let id = bactor::persist::tck::fresh_id("account");
    let a = system
        .spawn_persistent(id.clone(), Account::default)
        .await
        .unwrap();
    assert_eq!(no_hang(a.deposit(10)).await.unwrap(), 10);
    assert_eq!(no_hang(a.withdraw(3)).await.unwrap(), 7);
    assert_eq!(no_hang(a.deposit(5)).await.unwrap(), 12);
    stop(&a).await;
    let b = system.spawn_persistent(id, Account::default).await.unwrap();
    assert_eq!(no_hang(b.balance()).await.unwrap(), (12, 3));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn state_is_recovered_after_a_respawn_memory() {
    no_hang(persist_stop_respawn(MemoryStore::new())).await;
}

#[tokio::test]
async fn state_is_recovered_after_a_respawn_sqlite() {
    no_hang(persist_stop_respawn(
        no_hang(SqliteStore::in_memory()).await.unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_recovered_after_a_respawn_postgres() {
    let Some(url) = bactor::persist::testing::postgres_url() else {
        return;
    };
    no_hang(persist_stop_respawn(
        no_hang(bactor::persist::PostgresStore::connect(&url))
            .await
            .unwrap(),
    ))
    .await;
}

#[tokio::test]
async fn a_crash_mid_run_recovers_from_the_journal() {
    let store = no_hang(SqliteStore::in_memory()).await.unwrap();
    let system = no_hang(system_with(store)).await;
    let mut events = system.events().subscribe();
    let a = no_hang(system.spawn_persistent("crashy", Account::default))
        .await
        .unwrap();
    no_hang(a.deposit(4)).await.unwrap();
    no_hang(a.deposit(4)).await.unwrap();
    assert_eq!(no_hang(a.crash()).await, Err(AskError::Failed));
    restarted(&mut events, a.pid()).await;
    // The fresh instance replayed the journal: nothing was lost by the panic.
    assert_eq!(no_hang(a.balance()).await.unwrap(), (8, 2));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn recovery_starts_from_the_newest_snapshot_and_replays_the_tail() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    let a = no_hang(system.spawn_persistent("snappy", Account::default))
        .await
        .unwrap();
    for n in 1..=8 {
        no_hang(a.deposit(n)).await.unwrap();
    }
    no_hang(stop(&a)).await;
    // snapshot_every = 3: snapshots at 3 and 6; keep_snapshots = 2 keeps both.
    let snap = no_hang(store.load("snappy", SnapshotCriteria::latest()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.sequence_nr, 6);
    // Prove the snapshot is used: break an event it covers. Replay from 7 never reads it.
    store.corrupt("snappy", 2, "{not json");
    let b = no_hang(system.spawn_persistent("snappy", Account::default))
        .await
        .unwrap();
    assert_eq!(no_hang(b.balance()).await.unwrap(), (36, 8));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn old_snapshots_are_pruned() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    let a = no_hang(system.spawn_persistent("pruned", Account::default))
        .await
        .unwrap();
    for _ in 0..12 {
        no_hang(a.deposit(1)).await.unwrap();
    }
    // Snapshots at 3, 6, 9, 12; keep 2 → 9 and 12 remain.
    let newest = no_hang(store.load("pruned", SnapshotCriteria::latest()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newest.sequence_nr, 12);
    let older = no_hang(store.load("pruned", SnapshotCriteria::latest().max_sequence_nr(11)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(older.sequence_nr, 9);
    let gone = no_hang(store.load("pruned", SnapshotCriteria::latest().max_sequence_nr(8)))
        .await
        .unwrap();
    assert_eq!(gone, None);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn persist_all_is_atomic_and_applied_in_order() {
    let store = no_hang(SqliteStore::in_memory()).await.unwrap();
    let system = no_hang(system_with(store.clone())).await;
    let a = no_hang(system.spawn_persistent("batchy", Account::default))
        .await
        .unwrap();
    assert_eq!(no_hang(a.transfer_in(2, 3)).await.unwrap(), 5);
    let stored = no_hang(store.replay("batchy", 1, u64::MAX, u64::MAX))
        .await
        .unwrap();
    let manifests: Vec<&str> = stored.iter().map(|e| e.manifest.as_str()).collect();
    assert_eq!(manifests, ["Account::Deposited", "Account::Deposited"]);
    assert_eq!(stored[0].payload, r#"{"Deposited":{"amount":2}}"#);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn two_live_incarnations_never_interleave() {
    let store = no_hang(SqliteStore::in_memory()).await.unwrap();
    // Two systems (think: two processes) share one journal.
    let one = no_hang(system_with(store.clone())).await;
    let two = no_hang(system_with(store.clone())).await;
    let mut conflicts = two
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::PersistConflict { .. }));
    let a = no_hang(one.spawn_persistent("shared", Account::default))
        .await
        .unwrap();
    let b = no_hang(two.spawn_persistent("shared", Account::default))
        .await
        .unwrap();
    no_hang(a.balance()).await.unwrap();
    no_hang(b.balance()).await.unwrap(); // both recovered an empty journal
    assert_eq!(no_hang(a.deposit(1)).await.unwrap(), 1);
    // b's view is stale: its write is refused with a conflict and its state is unchanged...
    match no_hang(b.deposit(100)).await {
        Err(AskError::Handler(e)) => assert!(e.is_conflict(), "{e}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // ...the event stream says so, and b (`on_conflict = stop`, the default) stops
    // rather than fight a for the journal.
    match no_hang(conflicts.recv()).await {
        Some(SystemEvent::PersistConflict {
            pid,
            persistence_id,
            expected,
            actual,
        }) => assert_eq!(
            (pid, persistence_id.as_str(), expected, actual),
            (b.pid(), "shared", 0, 1)
        ),
        other => panic!("expected PersistConflict, got {other:?}"),
    }
    no_hang(b.stopped()).await;
    assert_eq!(no_hang(a.balance()).await.unwrap(), (1, 1));
    let history = no_hang(store.replay("shared", 1, u64::MAX, u64::MAX))
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    no_hang(one.shutdown()).await;
    no_hang(two.shutdown()).await;
}

#[tokio::test]
async fn a_corrupt_event_surfaces_as_an_error() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    let a = no_hang(system.spawn_persistent("corrupt", Account::default))
        .await
        .unwrap();
    no_hang(a.deposit(1)).await.unwrap();
    no_hang(stop(&a)).await;
    store.corrupt("corrupt", 1, r#"{"Deposited":{"amount":"lots"}}"#);
    let mut events = system.events().subscribe();
    let b = no_hang(system.spawn_persistent("corrupt", Account::default))
        .await
        .unwrap();
    // Recovery fails; the supervisor is told why (and, past the restart limit, stops it).
    let reason = decision(&mut events, b.pid()).await.reason;
    let text = reason.to_string();
    assert!(
        text.contains("cannot decode `Account::Deposited` #1 of `corrupt`"),
        "{text}"
    );
    assert!(reason.downcast_ref::<PersistError>().is_some());
    no_hang(b.stopped()).await;
    assert!(matches!(no_hang(b.balance()).await, Err(AskError::Dead)));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn persisting_needs_a_persistence_id_and_a_store() {
    let system = no_hang(system_with(MemoryStore::new())).await;
    let mut events = system.events().subscribe();
    // Spawned without a persistence id: persist says so, and fails the actor.
    let a = no_hang(system.spawn(Account::default)).await.unwrap();
    match no_hang(a.deposit(1)).await {
        Err(AskError::Handler(PersistError::NotPersistent)) => {}
        other => panic!("{other:?}"),
    }
    // The failure reached the supervisor (the guardian), naming the cause...
    let decision = decision(&mut events, a.pid()).await;
    assert_eq!(decision.directive, Directive::Restart);
    assert!(
        matches!(
            decision.reason.downcast_ref::<PersistError>(),
            Some(PersistError::NotPersistent)
        ),
        "{}",
        decision.reason
    );
    // ...and the restarted instance starts from a fresh state: nothing was applied.
    restarted(&mut events, a.pid()).await;
    assert_eq!(no_hang(a.balance()).await.unwrap(), (0, 0));
    no_hang(system.shutdown()).await;
    // A system without an event store refuses persistent spawns.
    let bare = ActorSystem::new();
    assert_eq!(
        no_hang(bare.spawn_persistent("x", Account::default))
            .await
            .unwrap_err(),
        SpawnError::NoEventStore
    );
    assert_eq!(bare.actor_count(), 0);
}

/// Four deposits of 1 into `id` (a snapshot at 3), then that snapshot made undecodable.
async fn four_deposits_and_a_broken_snapshot(system: &ActorSystem, store: &MemoryStore, id: &str) {
    let a = no_hang(system.spawn_persistent(id, Account::default))
        .await
        .unwrap();
    for _ in 0..4 {
        no_hang(a.deposit(1)).await.unwrap();
    }
    no_hang(stop(&a)).await;
    break_newest_snapshot(store, id).await;
}

/// Makes the newest snapshot of `id` (at 3) undecodable as either account type.
async fn break_newest_snapshot(store: &MemoryStore, id: &str) {
    let mut snap = no_hang(store.load(id, SnapshotCriteria::latest()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.sequence_nr, 3);
    snap.payload = r#"{"balance":"lots"}"#.to_owned();
    no_hang(store.save(snap)).await.unwrap();
}

/// Four deposits of 1 into a `Strict` account `id` (a snapshot at 3), then that snapshot
/// made undecodable.
async fn four_strict_deposits_and_a_broken_snapshot(
    system: &ActorSystem,
    store: &MemoryStore,
    id: &str,
) {
    let a = no_hang(system.spawn_persistent(id, Strict::default))
        .await
        .unwrap();
    for _ in 0..4 {
        no_hang(a.deposit(1)).await.unwrap();
    }
    a.stop();
    no_hang(a.stopped()).await;
    break_newest_snapshot(store, id).await;
}

#[tokio::test]
async fn a_snapshot_that_no_longer_decodes_is_skipped_and_the_journal_replayed() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    four_deposits_and_a_broken_snapshot(&system, &store, "bad-snapshot").await;
    let mut skipped = system
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::SnapshotSkipped { .. }));
    let b = no_hang(system.spawn_persistent("bad-snapshot", Account::default))
        .await
        .unwrap();
    // The default, `bad_snapshot = older`: no older snapshot, so the whole journal.
    assert_eq!(no_hang(b.balance()).await.unwrap(), (4, 4));
    match no_hang(skipped.recv()).await {
        Some(SystemEvent::SnapshotSkipped {
            pid, sequence_nr, ..
        }) => assert_eq!((pid, sequence_nr), (b.pid(), 3)),
        other => panic!("expected SnapshotSkipped, got {other:?}"),
    }
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn falling_back_fails_with_the_snapshot_error_when_the_events_it_needs_were_deleted() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    four_deposits_and_a_broken_snapshot(&system, &store, "trimmed-bad").await;
    // Events up to the snapshot are gone: only the snapshot knew them.
    no_hang(store.delete_to("trimmed-bad", 3)).await.unwrap();
    let mut events = system.events().subscribe();
    let b = no_hang(system.spawn_persistent("trimmed-bad", Account::default))
        .await
        .unwrap();
    let reason = decision(&mut events, b.pid()).await.reason;
    match reason.downcast_ref::<PersistError>() {
        Some(PersistError::Decode {
            persistence_id,
            sequence_nr,
            ..
        }) => assert_eq!((persistence_id.as_str(), *sequence_nr), ("trimmed-bad", 3)),
        _ => panic!("expected the snapshot's decode error, got {reason}"),
    }
    // Never a state missing what the deleted events did: past the restart limit it
    // stops, and asks fail instead of answering.
    no_hang(b.stopped()).await;
    assert_eq!(no_hang(b.balance()).await, Err(AskError::Dead));
    no_hang(system.shutdown()).await;
}

/// An account that refuses to recover past a snapshot it cannot read.
#[actor]
#[persistent(snapshot_every = 3, bad_snapshot = fail, on_conflict = restart)]
#[derive(Default, Serialize, Deserialize)]
struct Strict {
    balance: u64,
}

#[actor]
impl Strict {
    #[handler]
    async fn deposit(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, PersistError> {
        self.persist(ctx, StrictEvent::Deposited { amount }).await?;
        Ok(self.balance)
    }

    #[handler]
    fn balance(&self) -> u64 {
        self.balance
    }

    #[event]
    fn deposited(&mut self, amount: u64) {
        self.balance += amount;
    }
}

#[tokio::test]
async fn with_bad_snapshot_fail_a_snapshot_that_no_longer_decodes_fails_recovery() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    four_strict_deposits_and_a_broken_snapshot(&system, &store, "strict").await;
    let mut events = system.events().subscribe();
    let b = no_hang(system.spawn_persistent("strict", Strict::default))
        .await
        .unwrap();
    let reason = decision(&mut events, b.pid()).await.reason;
    match reason.downcast_ref::<PersistError>() {
        Some(e @ PersistError::Decode { sequence_nr, .. }) => {
            assert_eq!((e.kind(), *sequence_nr), (PersistErrorKind::Decode, 3));
        }
        _ => panic!("expected a decode error, got {reason}"),
    }
    no_hang(b.stopped()).await;
    assert_eq!(no_hang(b.balance()).await, Err(AskError::Dead));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn recovery_after_deleting_events_continues_the_sequence() {
    let store = no_hang(SqliteStore::in_memory()).await.unwrap();
    let system = no_hang(system_with(store.clone())).await;
    let a = no_hang(system.spawn_persistent("trimmed", Account::default))
        .await
        .unwrap();
    for n in 1..=7 {
        no_hang(a.deposit(n)).await.unwrap();
    }
    no_hang(stop(&a)).await;
    // Snapshots at 3 and 6; the events they cover are deleted.
    no_hang(store.delete_to("trimmed", 6)).await.unwrap();
    let b = no_hang(system.spawn_persistent("trimmed", Account::default))
        .await
        .unwrap();
    assert_eq!(no_hang(b.balance()).await.unwrap(), (28, 7));
    // The next event is #8, not a conflict with the deleted rows.
    assert_eq!(no_hang(b.deposit(1)).await.unwrap(), 29);
    assert_eq!(no_hang(b.balance()).await.unwrap(), (29, 8));
    no_hang(stop(&b)).await;
    // Everything deleted and no snapshot store to start from: the sequence still
    // continues after the highest number ever written.
    no_hang(store.delete_to("trimmed", 8)).await.unwrap();
    let t = no_hang(system.spawn_persistent("trimmed-tally", Tally::default))
        .await
        .unwrap();
    no_hang(t.add(1)).await.unwrap();
    no_hang(t.add(2)).await.unwrap();
    t.stop();
    no_hang(t.stopped()).await;
    no_hang(store.delete_to("trimmed-tally", 2)).await.unwrap();
    let t = no_hang(system.spawn_persistent("trimmed-tally", Tally::default))
        .await
        .unwrap();
    assert_eq!(no_hang(t.seen()).await.unwrap(), Vec::<u32>::new());
    assert_eq!(no_hang(t.add(3)).await.unwrap(), 1);
    let stored = no_hang(store.replay("trimmed-tally", 1, u64::MAX, u64::MAX))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sequence_nr, 3);
    no_hang(system.shutdown()).await;
}

/// A persistent actor without snapshots: its state need not be serializable.
#[actor]
#[persistent]
#[derive(Default)]
struct Tally {
    seen: Vec<u32>,
}

#[actor]
impl Tally {
    #[handler]
    async fn add(&mut self, ctx: &mut Context<Self>, n: u32) -> Result<usize, PersistError> {
        self.persist(ctx, TallyEvent::Added { n }).await?;
        Ok(self.seen.len())
    }

    #[handler]
    fn seen(&self) -> Vec<u32> {
        self.seen.clone()
    }

    #[event]
    fn added(&mut self, n: u32) {
        self.seen.push(n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_histories_recover_in_pages() {
    let store = no_hang(SqliteStore::in_memory()).await.unwrap();
    let system = no_hang(system_with(store.clone())).await;
    // 25,001 events, written straight to the journal: recovery reads pages of 10,000 (the
    // next one while it applies the last), so it crosses two page boundaries and ends on
    // a short page.
    let mut high = 0;
    while high < 25_001 {
        let events = (high..(high + 1_000).min(25_001))
            .map(|n| NewEvent::new("Tally::Added", format!(r#"{{"Added":{{"n":{n}}}}}"#)))
            .collect();
        high = no_hang(store.append("long", high, events)).await.unwrap();
    }
    let t = no_hang(system.spawn_persistent("long", Tally::default))
        .await
        .unwrap();
    // Every event, once, in order, across the page boundaries.
    let recovered = no_hang(t.seen()).await.unwrap();
    assert_eq!(recovered, (0..25_001).collect::<Vec<u32>>());
    assert_eq!(no_hang(t.add(0)).await.unwrap(), 25_002);
    t.stop();
    no_hang(t.stopped()).await;
    // The first 12,000 deleted: the first page starts past them and is full.
    no_hang(store.delete_to("long", 12_000)).await.unwrap();
    let again = no_hang(system.spawn_persistent("long", Tally::default))
        .await
        .unwrap();
    let mut expected: Vec<u32> = (12_000..25_001).collect();
    expected.push(0);
    assert_eq!(no_hang(again.seen()).await.unwrap(), expected);
    assert_eq!(no_hang(again.add(7)).await.unwrap(), 13_003);
    assert_eq!(
        no_hang(store.highest_sequence_nr("long")).await.unwrap(),
        25_003
    );
    no_hang(system.shutdown()).await;
}

/// A generic persistent actor: its events carry the item type, and its state (with
/// snapshots) is serializable whenever the item is.
#[actor]
#[persistent(snapshot_every = 2)]
#[derive(Serialize, Deserialize)]
struct Shelf<T: Clone + Send + 'static> {
    items: Vec<T>,
}

#[actor]
impl<T> Shelf<T>
where
    T: Clone + Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    #[handler]
    async fn put(&mut self, ctx: &mut Context<Self>, item: T) -> Result<usize, PersistError> {
        self.persist(ctx, ShelfEvent::Placed { item }).await?;
        Ok(self.items.len())
    }

    #[handler]
    fn items(&self) -> Vec<T> {
        self.items.clone()
    }

    #[event]
    fn placed(&mut self, item: T) {
        self.items.push(item);
    }
}

/// Generic over a type its events do not carry.
#[actor]
#[persistent]
struct Meter<U: Send + 'static> {
    total: u64,
    unit: std::marker::PhantomData<fn() -> U>,
}

#[actor]
impl<U: Send + 'static> Meter<U> {
    #[handler]
    async fn add(&mut self, ctx: &mut Context<Self>, n: u64) -> Result<u64, PersistError> {
        self.persist(ctx, MeterEvent::Added { n }).await?;
        Ok(self.total)
    }

    #[event]
    fn added(&mut self, n: u64) {
        self.total += n;
    }
}

struct Litres;

#[tokio::test]
async fn generic_persistent_actors_persist_snapshot_and_recover() {
    let store = no_hang(SqliteStore::in_memory()).await.unwrap();
    let system = no_hang(system_with(store.clone())).await;
    let empty = || Shelf::<String> { items: Vec::new() };
    let shelf = no_hang(system.spawn_persistent("shelf", empty))
        .await
        .unwrap();
    for item in ["a", "b", "c"] {
        no_hang(shelf.put(item.to_owned())).await.unwrap();
    }
    shelf.stop();
    no_hang(shelf.stopped()).await;
    // The events hold the items as JSON, under the manifest of the generic type's name.
    let stored = no_hang(store.replay("shelf", 1, u64::MAX, u64::MAX))
        .await
        .unwrap();
    assert_eq!(stored[0].manifest, "Shelf::Placed");
    assert_eq!(stored[0].payload, r#"{"Placed":{"item":"a"}}"#);
    // A snapshot at 2, then event 3.
    let snap = no_hang(store.load("shelf", SnapshotCriteria::latest()))
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snap.sequence_nr, 2);
    let again = no_hang(system.spawn_persistent("shelf", empty))
        .await
        .unwrap();
    assert_eq!(no_hang(again.items()).await.unwrap(), ["a", "b", "c"]);
    // Another instantiation, with another id.
    let numbers =
        no_hang(system.spawn_persistent("numbers", || Shelf::<u32> { items: Vec::new() }))
            .await
            .unwrap();
    assert_eq!(no_hang(numbers.put(7)).await.unwrap(), 1);

    let meter = || Meter::<Litres> {
        total: 0,
        unit: std::marker::PhantomData,
    };
    let m = no_hang(system.spawn_persistent("meter", meter))
        .await
        .unwrap();
    no_hang(m.add(2)).await.unwrap();
    assert_eq!(no_hang(m.add(3)).await.unwrap(), 5);
    m.stop();
    no_hang(m.stopped()).await;
    let m = no_hang(system.spawn_persistent("meter", meter))
        .await
        .unwrap();
    assert_eq!(no_hang(m.add(0)).await.unwrap(), 5);
    no_hang(system.shutdown()).await;
}

/// The newer version of a wallet: its deposits gained a `note`, and carry a stored name of
/// their own.
#[actor]
#[persistent(snapshot_every = 2)]
#[derive(Default, Serialize, Deserialize)]
struct Wallet {
    balance: u64,
    notes: Vec<String>,
}

#[actor]
impl Wallet {
    #[handler]
    async fn deposit(
        &mut self,
        ctx: &mut Context<Self>,
        amount: u64,
        note: String,
    ) -> Result<u64, PersistError> {
        self.persist(ctx, WalletEvent::Deposited { amount, note })
            .await?;
        Ok(self.balance)
    }

    #[handler]
    fn state(&self) -> (u64, Vec<String>) {
        (self.balance, self.notes.clone())
    }

    /// Events written before `note` existed decode with an empty one.
    #[event(name = "wallet.deposited")]
    fn deposited(&mut self, amount: u64, #[serde(default)] note: String) {
        self.balance += amount;
        self.notes.push(note);
    }
}

#[tokio::test]
async fn an_old_journal_is_recovered_by_the_new_version_of_the_actor() {
    let store = MemoryStore::new();
    // What the first version wrote: the same stored name, no `note` yet.
    let old =
        bactor::persist::NewEvent::new("wallet.deposited", r#"{"wallet.deposited":{"amount":5}}"#);
    no_hang(store.append("wallet-1", 0, vec![old]))
        .await
        .unwrap();
    let system = no_hang(system_with(store.clone())).await;
    let w = no_hang(system.spawn_persistent("wallet-1", Wallet::default))
        .await
        .unwrap();
    assert_eq!(no_hang(w.state()).await.unwrap(), (5, vec![String::new()]));
    assert_eq!(no_hang(w.deposit(7, "rent".into())).await.unwrap(), 12);
    // The new event is stored under the explicit name, as its manifest and its JSON tag.
    let events = no_hang(store.replay("wallet-1", 1, 2, 10)).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].manifest, "wallet.deposited");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&events[1].payload).unwrap(),
        serde_json::json!({"wallet.deposited": {"amount": 7, "note": "rent"}})
    );
    // snapshot_every = 2: a snapshot at 2, whose manifest is the type's name as written.
    let snap = no_hang(store.load("wallet-1", SnapshotCriteria::latest()))
        .await
        .unwrap()
        .expect("a snapshot at 2");
    assert_eq!((snap.sequence_nr, snap.manifest.as_str()), (2, "Wallet"));
    no_hang(system.shutdown()).await;
}

/// Version 1 of `Ledger` stored `Deposited { cents }`; version 2 stores dollars and a note.
fn upgrade_ledger(manifest: &str, event: serde_json::Value) -> serde_json::Value {
    match (manifest, event["Deposited"]["cents"].as_u64()) {
        ("Ledger::Deposited", Some(cents)) => {
            serde_json::json!({ "Deposited": { "amount": cents / 100, "note": "v1" } })
        }
        _ => event,
    }
}

#[actor]
#[persistent(upcast = upgrade_ledger)]
#[derive(Default)]
struct Ledger {
    balance: u64,
    notes: Vec<String>,
}

#[actor]
impl Ledger {
    #[handler]
    async fn deposit(
        &mut self,
        ctx: &mut Context<Self>,
        amount: u64,
        note: String,
    ) -> Result<u64, PersistError> {
        self.persist(ctx, LedgerEvent::Deposited { amount, note })
            .await?;
        Ok(self.balance)
    }

    #[handler]
    fn state(&self) -> (u64, Vec<String>) {
        (self.balance, self.notes.clone())
    }

    #[event]
    fn deposited(&mut self, amount: u64, note: String) {
        self.balance += amount;
        self.notes.push(note);
    }
}

#[tokio::test]
async fn an_upcaster_turns_old_events_into_current_ones_during_recovery() {
    let store = MemoryStore::new();
    let v1 = bactor::persist::NewEvent::new("Ledger::Deposited", r#"{"Deposited":{"cents":500}}"#);
    no_hang(store.append("ledger-1", 0, vec![v1]))
        .await
        .unwrap();
    let system = no_hang(system_with(store.clone())).await;
    let l = no_hang(system.spawn_persistent("ledger-1", Ledger::default))
        .await
        .unwrap();
    assert_eq!(
        no_hang(l.state()).await.unwrap(),
        (5, vec!["v1".to_owned()])
    );
    // Current events pass through it unchanged.
    assert_eq!(no_hang(l.deposit(2, "v2".into())).await.unwrap(), 7);
    l.stop();
    no_hang(l.stopped()).await;
    let again = no_hang(system.spawn_persistent("ledger-1", Ledger::default))
        .await
        .unwrap();
    assert_eq!(
        no_hang(again.state()).await.unwrap(),
        (7, vec!["v1".to_owned(), "v2".to_owned()])
    );
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn spawn_recovered_returns_the_actor_once_recovered_and_recovery_is_published() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    let a = no_hang(system.spawn_persistent("recovered", Account::default))
        .await
        .unwrap();
    for _ in 0..4 {
        no_hang(a.deposit(1)).await.unwrap();
    }
    no_hang(stop(&a)).await;
    let mut recovered = system
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::Recovered { .. }));
    let b = no_hang(system.spawn_recovered("recovered", Account::default))
        .await
        .unwrap();
    assert_eq!(no_hang(b.balance()).await.unwrap(), (4, 4));
    match no_hang(recovered.recv()).await {
        Some(SystemEvent::Recovered {
            pid,
            persistence_id,
            snapshot,
            events,
            ..
        }) => assert_eq!(
            (pid, persistence_id.as_str(), snapshot, events),
            (b.pid(), "recovered", Some(3), 1)
        ),
        other => panic!("expected Recovered, got {other:?}"),
    }
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn spawn_recovered_returns_the_typed_error_and_leaves_no_actor_restarting() {
    let store = MemoryStore::new();
    let system = no_hang(system_with(store.clone())).await;
    four_strict_deposits_and_a_broken_snapshot(&system, &store, "strict-2").await;
    match no_hang(system.spawn_recovered("strict-2", Strict::default)).await {
        Err(RecoveryError::Failed(PersistError::Decode {
            persistence_id,
            sequence_nr,
            ..
        })) => assert_eq!((persistence_id.as_str(), sequence_nr), ("strict-2", 3)),
        other => panic!(
            "expected the decode error, got {:?}",
            other.map(|r| r.pid())
        ),
    }
    // Stopped, not restarting: nothing of it is left.
    assert_eq!(system.actor_count(), 0);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn with_on_conflict_restart_the_loser_restarts_and_carries_on_from_the_journal() {
    let store = MemoryStore::new();
    let one = no_hang(system_with(store.clone())).await;
    let two = no_hang(system_with(store.clone())).await;
    let mut events = two.events().subscribe();
    let a = no_hang(one.spawn_persistent("contested", Strict::default))
        .await
        .unwrap();
    let b = no_hang(two.spawn_persistent("contested", Strict::default))
        .await
        .unwrap();
    no_hang(a.balance()).await.unwrap();
    no_hang(b.balance()).await.unwrap();
    assert_eq!(no_hang(a.deposit(1)).await.unwrap(), 1);
    match no_hang(b.deposit(100)).await {
        Err(AskError::Handler(e)) => assert!(e.is_conflict(), "{e}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // b failed, its supervisor restarted it, and it recovered a's event.
    restarted(&mut events, b.pid()).await;
    assert_eq!(no_hang(b.balance()).await.unwrap(), 1);
    assert_eq!(no_hang(b.deposit(2)).await.unwrap(), 3);
    no_hang(one.shutdown()).await;
    no_hang(two.shutdown()).await;
}

/// A store that can be taken down: every operation then fails as a lost database would.
#[derive(Clone, Default)]
struct Flaky {
    inner: MemoryStore,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<(), bactor::persist::StoreError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(bactor::persist::StoreError::Backend(std::sync::Arc::new(
                std::io::Error::other("the database is down"),
            )));
        }
        Ok(())
    }
}

type Fut<'a, T> = bactor::persist::BoxFuture<'a, Result<T, bactor::persist::StoreError>>;

impl Journal for Flaky {
    fn append<'a>(
        &'a self,
        id: &'a str,
        expected: u64,
        events: Vec<bactor::persist::NewEvent>,
    ) -> Fut<'a, u64> {
        Box::pin(async move {
            self.check()?;
            self.inner.append(id, expected, events).await
        })
    }

    fn replay<'a>(
        &'a self,
        id: &'a str,
        from: u64,
        to: u64,
        max: u64,
    ) -> Fut<'a, Vec<bactor::persist::EventRecord>> {
        Box::pin(async move {
            self.check()?;
            self.inner.replay(id, from, to, max).await
        })
    }

    fn highest_sequence_nr<'a>(&'a self, id: &'a str) -> Fut<'a, u64> {
        Box::pin(async move {
            self.check()?;
            self.inner.highest_sequence_nr(id).await
        })
    }

    fn delete_to<'a>(&'a self, id: &'a str, to: u64) -> Fut<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.delete_to(id, to).await
        })
    }
}

impl SnapshotStore for Flaky {
    fn save<'a>(&'a self, snapshot: bactor::persist::SnapshotRecord) -> Fut<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.save(snapshot).await
        })
    }

    fn load<'a>(
        &'a self,
        id: &'a str,
        criteria: SnapshotCriteria,
    ) -> Fut<'a, Option<bactor::persist::SnapshotRecord>> {
        Box::pin(async move {
            self.check()?;
            self.inner.load(id, criteria).await
        })
    }

    fn delete<'a>(&'a self, id: &'a str, sequence_nr: u64) -> Fut<'a, ()> {
        Box::pin(async move {
            self.check()?;
            SnapshotStore::delete(&self.inner, id, sequence_nr).await
        })
    }

    fn delete_matching<'a>(&'a self, id: &'a str, criteria: SnapshotCriteria) -> Fut<'a, ()> {
        Box::pin(async move {
            self.check()?;
            self.inner.delete_matching(id, criteria).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn restarts_after_a_store_failure_back_off_and_the_ref_works_after_the_outage() {
    let store = Flaky::default();
    let system = no_hang(system_with(store.clone())).await;
    let a = no_hang(system.spawn_persistent("outage", Account::default))
        .await
        .unwrap();
    assert_eq!(no_hang(a.deposit(1)).await.unwrap(), 1);
    let mut events = system.events().subscribe();
    store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    match no_hang(a.deposit(2)).await {
        Err(AskError::Handler(e)) => assert_eq!(
            e.kind(),
            PersistErrorKind::Store(bactor::persist::StoreErrorKind::Backend)
        ),
        other => panic!("expected the store's error, got {other:?}"),
    }
    // The write failed, and each recovery during the outage fails too: the restarts wait
    // 100 ms, 200 ms, 400 ms (± 20 %), not zero, though the strategy has no backoff.
    let mut delays = Vec::new();
    while delays.len() < 3 {
        let d = decision(&mut events, a.pid()).await;
        assert_eq!(d.directive, Directive::Restart);
        delays.push(d.delay);
    }
    for (delay, base) in delays.iter().zip([100u64, 200, 400]) {
        let (lo, hi) = (base * 8 / 10, base * 12 / 10);
        assert!(
            (lo..=hi).contains(&(delay.as_millis() as u64)),
            "{delays:?}"
        );
    }
    // Messages sent during the outage wait in the mailbox; an asker bounds its own wait.
    // (A message already queued is still handled once the store is back: only its reply
    // is dropped, as for every ask that times out.)
    let waited = no_hang(a.deposit(5).timeout(std::time::Duration::from_millis(50))).await;
    assert!(matches!(waited, Err(AskError::Timeout)), "{waited:?}");
    // The store comes back: the same ref works, and nothing acknowledged was lost.
    store.down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(no_hang(a.deposit(3)).await.unwrap(), 9);
    no_hang(system.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_postgres_stopped_mid_run_errors_in_time_and_the_ref_works_after_restart() {
    use std::time::{Duration, Instant};
    let Some(server) = bactor::persist::testing::PrivateServer::start_new("outage") else {
        return;
    };
    let store = no_hang(bactor::persist::PostgresStore::connect_with_timeout(
        &server.url(),
        Duration::from_secs(1),
    ))
    .await
    .unwrap();
    let system = no_hang(system_with(store)).await;
    let a = no_hang(system.spawn_persistent("pg-outage", Account::default))
        .await
        .unwrap();
    assert_eq!(no_hang(a.deposit(1)).await.unwrap(), 1);
    server.stop_immediate().unwrap();
    // A write during the outage fails within the store's deadline (1 s here), no panic.
    let started = Instant::now();
    match no_hang(a.deposit(2)).await {
        Err(AskError::Handler(e)) => assert_eq!(
            e.kind(),
            PersistErrorKind::Store(bactor::persist::StoreErrorKind::Backend),
            "{e}"
        ),
        other => panic!("expected the store's error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.start().unwrap();
    // The same ref works once the database is back (its restarts back off meanwhile),
    // and the acknowledged deposit is still there.
    let deadline = Instant::now() + Duration::from_secs(60);
    let balance = loop {
        match a.deposit(3).timeout(Duration::from_secs(5)).await {
            Ok(balance) => break balance,
            Err(e) => assert!(Instant::now() < deadline, "not back after 60 s: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Deposits of 3 that timed out may have landed too: the first acknowledged one is
    // there, and every deposit counted is a 3.
    assert!(balance >= 4 && (balance - 1) % 3 == 0, "{balance}");
    no_hang(system.shutdown()).await;
}

/// Recovery reads events without their manifests (unless an upcaster needs them); an
/// event that does not decode still names its manifest in the error, read then.
#[tokio::test]
async fn an_event_that_does_not_decode_names_its_manifest() {
    let store = no_hang(SqliteStore::in_memory()).await.unwrap();
    no_hang(store.append(
        "mystery",
        0,
        vec![
            bactor::persist::NewEvent::new("Strict::Deposited", r#"{"Deposited":{"amount":1}}"#),
            bactor::persist::NewEvent::new("Strict::Mystery", r#"{"Mystery":{}}"#),
        ],
    ))
    .await
    .unwrap();
    let system = no_hang(system_with(store.clone())).await;
    match no_hang(system.spawn_recovered("mystery", Strict::default)).await {
        Err(RecoveryError::Failed(PersistError::Decode {
            sequence_nr,
            manifest,
            ..
        })) => assert_eq!((sequence_nr, manifest.as_str()), (2, "Strict::Mystery")),
        other => panic!("expected the event's decode error, got {:?}", other.err()),
    }
    no_hang(system.shutdown()).await;
}

/// Tags from `#[event(tags = [..])]` and from `#[persistent(tag_with = ..)]`.
#[actor]
#[persistent(tag_with = currency_tag)]
#[derive(Default, Serialize, Deserialize)]
struct Purse {
    cents: u64,
}

/// Each money event is tagged with its currency.
fn currency_tag(event: &PurseEvent) -> Vec<String> {
    match event {
        PurseEvent::Credited { currency, .. } | PurseEvent::Debited { currency, .. } => {
            vec![format!("currency-{currency}")]
        }
        PurseEvent::Renamed { .. } => Vec::new(),
    }
}

#[actor]
impl Purse {
    #[handler]
    async fn credit(
        &mut self,
        ctx: &mut Context<Self>,
        cents: u64,
        currency: String,
    ) -> Result<u64, PersistError> {
        self.persist(ctx, PurseEvent::Credited { cents, currency })
            .await?;
        Ok(self.cents)
    }

    #[handler]
    async fn debit(
        &mut self,
        ctx: &mut Context<Self>,
        cents: u64,
        currency: String,
    ) -> Result<u64, PersistError> {
        self.persist(ctx, PurseEvent::Debited { cents, currency })
            .await?;
        Ok(self.cents)
    }

    #[handler]
    async fn rename(&mut self, ctx: &mut Context<Self>, name: String) -> Result<(), PersistError> {
        self.persist(ctx, PurseEvent::Renamed { name }).await
    }

    #[event(tags = ["money", "credit"])]
    fn credited(&mut self, cents: u64, currency: String) {
        let _ = currency;
        self.cents += cents;
    }

    #[event(tags = ["money"])]
    fn debited(&mut self, cents: u64, currency: String) {
        let _ = currency;
        self.cents -= cents;
    }

    #[event]
    fn renamed(&mut self, name: String) {
        let _ = name;
    }
}

#[tokio::test]
async fn events_are_stored_with_their_tags_and_queried_by_tag() {
    use bactor::persist::ReadJournal;
    let store = SqliteStore::in_memory().await.unwrap();
    let system = system_with(store.clone()).await;
    let w = no_hang(system.spawn_persistent("w-1", Purse::default))
        .await
        .unwrap();
    no_hang(w.credit(500, "EUR".into())).await.unwrap();
    no_hang(w.rename("savings".into())).await.unwrap();
    no_hang(w.debit(200, "EUR".into())).await.unwrap();
    no_hang(w.credit(100, "USD".into())).await.unwrap();

    let tagged = |tag: &'static str| {
        let store = store.clone();
        async move {
            no_hang(store.events_by_tag(tag, 0, 100))
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.sequence_nr, e.tags))
                .collect::<Vec<_>>()
        }
    };
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        tagged("money").await,
        [
            (1, tags(&["credit", "currency-EUR", "money"])),
            (3, tags(&["currency-EUR", "money"])),
            (4, tags(&["credit", "currency-USD", "money"])),
        ]
    );
    assert_eq!(
        tagged("currency-EUR")
            .await
            .into_iter()
            .map(|(s, _)| s)
            .collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(tagged("credit").await.len(), 2);
    // Untagged events are in the journal, under no tag.
    let all = no_hang(store.all_events(0, 100)).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all[1].tags.is_empty());
    system.shutdown().await;
}
