//! Persistence throughput: events persisted per second (one actor; 100 actors at once) and
//! recovery events per second, on SQLite (a file) and Postgres (when
//! `BACTOR_BENCH_POSTGRES_URL` or `BACTOR_TEST_POSTGRES_URL` is set).
//!
//! `cargo run --release --bin persist` (from `benches/`).

use std::time::{Duration, Instant};

use bactor::persist::{Journal, PostgresStore, SnapshotStore, SqliteStore};
use bactor::prelude::*;

const SEQUENTIAL: u64 = 20_000;
const ACTORS: u64 = 100;
const PER_ACTOR: u64 = 500;
const RECOVER: u64 = 100_000;

#[actor]
#[persistent]
#[derive(Default)]
struct Tally {
    sum: u64,
    /// Events applied, so that a lost `n = 0` event (invisible in `sum`) is noticed.
    count: u64,
}

#[actor]
impl Tally {
    #[handler]
    async fn add(&mut self, ctx: &mut Context<Self>, n: u64) -> Result<u64, PersistError> {
        self.persist(ctx, TallyEvent::Added { n }).await?;
        Ok(self.sum)
    }

    /// The sum, the events applied and the sequence number reached.
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

/// Checks, outside the timed part, that the journal of `id` holds exactly `n` events,
/// numbered `1..=n`: a store that dropped or duplicated rows must not be benchmarked.
async fn check_journal<S: Journal>(store: &S, id: &str, n: u64) {
    assert_eq!(store.highest_sequence_nr(id).await.unwrap(), n, "{id}");
    let events = store.replay(id, 1, u64::MAX, u64::MAX).await.unwrap();
    assert_eq!(events.len() as u64, n, "{id}");
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.sequence_nr == i as u64 + 1),
        "{id}: sequence numbers are not 1..={n}"
    );
}

/// The sum of `0..n`.
fn triangle(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn rate(n: u64, d: Duration) -> String {
    format!("{:.1} k events/s", n as f64 / d.as_secs_f64() / 1e3)
}

async fn run<S>(name: &str, store: S)
where
    S: Journal + SnapshotStore + Clone,
{
    let run_id = std::process::id();
    let system = ActorSystem::builder().persistence(store.clone()).build();

    // One actor, one event per ask, sequentially.
    let seq_id = format!("bench-seq-{run_id}");
    let a = system
        .spawn_persistent(seq_id.clone(), Tally::default)
        .await
        .unwrap();
    let start = Instant::now();
    for n in 0..SEQUENTIAL {
        a.add(n).await.unwrap();
    }
    let seq = start.elapsed();
    assert_eq!(
        a.totals().await.unwrap(),
        (triangle(SEQUENTIAL), SEQUENTIAL, SEQUENTIAL)
    );
    check_journal(&store, &seq_id, SEQUENTIAL).await;

    // 100 actors persisting at once (group commit shares the transactions).
    let mut refs = Vec::new();
    for i in 0..ACTORS {
        refs.push(
            system
                .spawn_persistent(format!("bench-conc-{run_id}-{i}"), Tally::default)
                .await
                .unwrap(),
        );
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for r in refs {
        tasks.push(tokio::spawn(async move {
            for n in 0..PER_ACTOR {
                r.add(n).await.unwrap();
            }
            r
        }));
    }
    let mut refs = Vec::new();
    for t in tasks {
        refs.push(t.await.unwrap());
    }
    let conc = start.elapsed();
    for (i, r) in refs.iter().enumerate() {
        assert_eq!(
            r.totals().await.unwrap(),
            (triangle(PER_ACTOR), PER_ACTOR, PER_ACTOR)
        );
        check_journal(&store, &format!("bench-conc-{run_id}-{i}"), PER_ACTOR).await;
    }

    // The same 100 x 500 appends straight to the store, without actors.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..ACTORS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("bench-direct-{run_id}-{i}");
            for n in 0..PER_ACTOR {
                let e = bactor::persist::NewEvent::new("Tally::Added", r#"{"Added":{"n":1}}"#);
                store.append(&id, n, vec![e]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let direct = start.elapsed();
    for i in 0..ACTORS {
        check_journal(&store, &format!("bench-direct-{run_id}-{i}"), PER_ACTOR).await;
    }

    // Recovery: a journal of RECOVER events, written in batches of 1000, then replayed.
    let id = format!("bench-recover-{run_id}");
    let mut high = 0;
    while high < RECOVER {
        let batch = (0..1000)
            .map(|n| {
                bactor::persist::NewEvent::new(
                    "Tally::Added",
                    format!(r#"{{"Added":{{"n":{n}}}}}"#),
                )
            })
            .collect();
        high = store.append(&id, high, batch).await.unwrap();
    }
    check_journal(&store, &id, RECOVER).await;
    let start = Instant::now();
    let r = system.spawn_persistent(id, Tally::default).await.unwrap();
    let totals = r.totals().await.unwrap();
    let rec = start.elapsed();
    // Every event applied once (the count), in full (the sum), up to the last one.
    assert_eq!(
        totals,
        ((RECOVER / 1000) * triangle(1000), RECOVER, RECOVER)
    );

    println!(
        "| {name} | {} | {} | {} | {} |",
        rate(SEQUENTIAL, seq),
        rate(ACTORS * PER_ACTOR, conc),
        rate(ACTORS * PER_ACTOR, direct),
        rate(RECOVER, rec)
    );
    system.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "| backend | 1 actor, sequential ({SEQUENTIAL} events) | {ACTORS} actors concurrent ({} events) | same appends, no actors | recovery ({RECOVER} events) |",
        ACTORS * PER_ACTOR
    );
    println!("|---|---|---|---|---|");
    let path = std::env::temp_dir().join(format!("bactor-bench-{}.db", std::process::id()));
    let sqlite = SqliteStore::open(&path).await.unwrap();
    run("SQLite (file, WAL, synchronous=NORMAL)", sqlite).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = std::env::var("BACTOR_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("BACTOR_TEST_POSTGRES_URL"))
        .ok();
    match url {
        Some(url) => {
            run(
                "Postgres 15 (local, default settings)",
                PostgresStore::connect(&url).await.unwrap(),
            )
            .await
        }
        None => println!("| Postgres | skipped: set BACTOR_BENCH_POSTGRES_URL | | | |"),
    }
}
