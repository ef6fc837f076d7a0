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
}

#[actor]
impl Tally {
    #[handler]
    async fn add(&mut self, ctx: &mut Context<Self>, n: u64) -> Result<u64, PersistError> {
        self.persist(ctx, TallyEvent::Added { n }).await?;
        Ok(self.sum)
    }

    #[handler]
    fn sum(&self) -> u64 {
        self.sum
    }

    #[event]
    fn added(&mut self, n: u64) {
        self.sum += n;
    }
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
    let a = system
        .spawn_persistent(format!("bench-seq-{run_id}"), Tally::default)
        .await
        .unwrap();
    let start = Instant::now();
    for n in 0..SEQUENTIAL {
        a.add(n).await.unwrap();
    }
    let seq = start.elapsed();

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
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let conc = start.elapsed();

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
    let start = Instant::now();
    let r = system.spawn_persistent(id, Tally::default).await.unwrap();
    let sum = r.sum().await.unwrap();
    let rec = start.elapsed();
    assert_eq!(sum, (RECOVER / 1000) * (999 * 1000 / 2));

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
