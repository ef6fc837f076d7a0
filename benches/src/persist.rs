//! Persistence throughput against a hand-written sqlx journal, in the same run, on SQLite
//! (a file, WAL, `synchronous = NORMAL`) and Postgres (when `BACTOR_BENCH_POSTGRES_URL` or
//! `BACTOR_TEST_POSTGRES_URL` is set): events persisted per second by 100 actors at once
//! (one event per message), by one hot actor asked by 100 callers at once with
//! `persist_deferred` (against the baseline's 100-writer row), by one actor with
//! `persist_all` of 100 events per message, by one actor with one event per message, and
//! events recovered per second.
//!
//! The baseline (`mod baseline`) is what a user would write by hand on sqlx: a table with
//! the journal's columns (the payload as text), multi-row inserts (`VALUES` on SQLite,
//! `UNNEST` on Postgres) in autocommit, and for many writers one writer task that writes
//! whatever is pending as soon as the previous commit is done; recovery selects the rows
//! in order and decodes each payload with serde_json.
//!
//! `cargo run --release --bin persist` (from `benches/`).

use std::time::{Duration, Instant};

use bactor::persist::{Journal, PostgresStore, SnapshotStore, SqliteStore};
use bactor::prelude::*;

const SEQUENTIAL: u64 = 20_000;
const ACTORS: u64 = 100;
const PER_ACTOR: u64 = 500;
const RECOVER: u64 = 100_000;
/// Messages to the hot actor.
const HOT: u64 = 100_000;
/// Events per message in the `persist_all` row, and messages.
const BATCH: u64 = 100;
const BATCHES: u64 = 200;

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

    /// One event, persisted without waiting: the reply waits for it (`persist_deferred`).
    #[handler]
    fn add_deferred(&mut self, ctx: &mut Context<Self>, n: u64) -> Result<u64, PersistError> {
        self.persist_deferred(ctx, TallyEvent::Added { n })?;
        Ok(self.sum)
    }

    /// `BATCH` events, `first..first + BATCH`, in one `persist_all`.
    #[handler]
    async fn add_batch(
        &mut self,
        ctx: &mut Context<Self>,
        first: u64,
    ) -> Result<u64, PersistError> {
        let events = (first..first + BATCH)
            .map(|n| TallyEvent::Added { n })
            .collect();
        self.persist_all(ctx, events).await?;
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

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// A hand-written sqlx journal: what bactor's stores are measured against.
mod baseline {
    use std::time::{SystemTime, UNIX_EPOCH};

    use sqlx::{PgPool, QueryBuilder, Sqlite, SqlitePool};
    use tokio::sync::{mpsc, oneshot};

    /// One journal row.
    pub struct Row {
        pub id: String,
        pub seq: i64,
        pub payload: String,
    }

    impl Row {
        pub fn added(id: &str, seq: u64, n: u64) -> Row {
            Row {
                id: id.to_owned(),
                seq: seq as i64,
                payload: format!(r#"{{"Added":{{"n":{n}}}}}"#),
            }
        }
    }

    fn now_ms() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    #[derive(Clone)]
    pub enum Db {
        Sqlite(SqlitePool),
        Postgres(PgPool),
    }

    const MANIFEST: &str = "Tally::Added";

    impl Db {
        /// A fresh table with the journal's columns; the primary key is the only check.
        pub async fn create(&self) {
            const DROP: &str = "DROP TABLE IF EXISTS baseline_journal";
            const CREATE: &str = "CREATE TABLE baseline_journal (persistence_id TEXT NOT NULL, \
                 sequence_nr BIGINT NOT NULL, manifest TEXT NOT NULL, payload TEXT NOT NULL, \
                 written_at BIGINT NOT NULL, PRIMARY KEY (persistence_id, sequence_nr))";
            match self {
                Db::Sqlite(p) => {
                    sqlx::query(DROP).execute(p).await.unwrap();
                    sqlx::query(CREATE).execute(p).await.unwrap();
                }
                Db::Postgres(p) => {
                    sqlx::query(DROP).execute(p).await.unwrap();
                    sqlx::query(CREATE).execute(p).await.unwrap();
                }
            }
        }

        /// `rows` in one statement (one transaction).
        pub async fn insert(&self, rows: &[Row]) -> Result<(), String> {
            let at = now_ms();
            match self {
                Db::Sqlite(p) => {
                    let mut q = QueryBuilder::<Sqlite>::new(
                        "INSERT INTO baseline_journal \
                         (persistence_id, sequence_nr, manifest, payload, written_at) ",
                    );
                    q.push_values(rows, |mut b, r| {
                        b.push_bind(&r.id)
                            .push_bind(r.seq)
                            .push_bind(MANIFEST)
                            .push_bind(&r.payload)
                            .push_bind(at);
                    });
                    q.build().execute(p).await.map_err(|e| e.to_string())?;
                }
                Db::Postgres(p) => {
                    let sql = "INSERT INTO baseline_journal \
                         (persistence_id, sequence_nr, manifest, payload, written_at) \
                         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::int8[])";
                    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
                    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
                    let manifests = vec![MANIFEST; rows.len()];
                    let payloads: Vec<&str> = rows.iter().map(|r| r.payload.as_str()).collect();
                    let ats = vec![at; rows.len()];
                    sqlx::query(sql)
                        .bind(ids)
                        .bind(seqs)
                        .bind(manifests)
                        .bind(payloads)
                        .bind(ats)
                        .execute(p)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        }

        /// The payloads of `id`, in order.
        pub async fn replay(&self, id: &str) -> Vec<(i64, String)> {
            match self {
                Db::Sqlite(p) => sqlx::query_as(
                    "SELECT sequence_nr, payload FROM baseline_journal \
                     WHERE persistence_id = ?1 ORDER BY sequence_nr",
                )
                .bind(id)
                .fetch_all(p)
                .await
                .unwrap(),
                Db::Postgres(p) => sqlx::query_as(
                    "SELECT sequence_nr, payload FROM baseline_journal \
                     WHERE persistence_id = $1 ORDER BY sequence_nr",
                )
                .bind(id)
                .fetch_all(p)
                .await
                .unwrap(),
            }
        }

        pub async fn count(&self) -> i64 {
            const COUNT: &str = "SELECT COUNT(*) FROM baseline_journal";
            match self {
                Db::Sqlite(p) => sqlx::query_scalar(COUNT).fetch_one(p).await.unwrap(),
                Db::Postgres(p) => sqlx::query_scalar(COUNT).fetch_one(p).await.unwrap(),
            }
        }
    }

    type Pending = (Vec<Row>, oneshot::Sender<Result<(), String>>);

    /// One writer task: whatever is pending when the previous commit is done goes into
    /// the next statement.
    #[derive(Clone)]
    pub struct Writer {
        tx: mpsc::UnboundedSender<Pending>,
    }

    impl Writer {
        pub fn start(db: Db) -> Writer {
            let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
            tokio::spawn(async move {
                while let Some(first) = rx.recv().await {
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    let mut rows = Vec::new();
                    let mut replies = Vec::new();
                    for (r, reply) in batch {
                        rows.extend(r);
                        replies.push(reply);
                    }
                    let result = db.insert(&rows).await;
                    for reply in replies {
                        let _ = reply.send(result.clone());
                    }
                }
            });
            Writer { tx }
        }

        pub async fn append(&self, rows: Vec<Row>) -> Result<(), String> {
            let (reply, done) = oneshot::channel();
            self.tx.send((rows, reply)).map_err(|_| "writer gone")?;
            done.await.map_err(|_| "writer gone")?
        }
    }
}

/// What one scenario measured: events per second for the baseline and for bactor.
struct Cell {
    scenario: String,
    baseline: f64,
    bactor: f64,
}

#[derive(serde::Deserialize)]
enum Stored {
    Added { n: u64 },
}

/// One round of every scenario, the baseline first each time; ids are fresh per round and
/// the same on both sides (a longer id makes every row and index entry longer).
/// Everything runs on the runtime's two workers.
async fn run<S>(store: S, db: baseline::Db, round: u64) -> Vec<Cell>
where
    S: Journal + SnapshotStore + Clone,
{
    let run_id = format!("{}-{round}", std::process::id());
    let system = ActorSystem::builder().persistence(store.clone()).build();
    let mut cells = Vec::new();

    // 100 actors persisting at once, one event per message (group commit shares the
    // transactions); the baseline: 100 tasks through one writer.
    let writer = baseline::Writer::start(db.clone());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..ACTORS {
        let writer = writer.clone();
        let id = format!("conc-{run_id}-{i}");
        tasks.push(tokio::spawn(async move {
            for n in 0..PER_ACTOR {
                writer
                    .append(vec![baseline::Row::added(&id, n + 1, n)])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let base = start.elapsed();
    let mut refs = Vec::new();
    for i in 0..ACTORS {
        refs.push(
            system
                .spawn_persistent(format!("conc-{run_id}-{i}"), Tally::default)
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
        check_journal(&store, &format!("conc-{run_id}-{i}"), PER_ACTOR).await;
    }
    cells.push(Cell {
        scenario: format!("{ACTORS} actors, {PER_ACTOR} events each, one per message"),
        baseline: rate(ACTORS * PER_ACTOR, base),
        bactor: rate(ACTORS * PER_ACTOR, conc),
    });

    // One hot actor: 100 callers asking it at once, 100,000 one-event messages, with
    // `persist_deferred`; the reference is the baseline's 100-writer row of this round.
    let hot_id = format!("hot-{run_id}");
    let hot = system
        .spawn_persistent(hot_id.clone(), Tally::default)
        .await
        .unwrap();
    let per_caller = HOT / ACTORS;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..ACTORS {
        let hot = hot.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..per_caller {
                hot.add_deferred(c * per_caller + n).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let hot_time = start.elapsed();
    assert_eq!(hot.totals().await.unwrap(), (triangle(HOT), HOT, HOT));
    check_journal(&store, &hot_id, HOT).await;
    cells.push(Cell {
        scenario: format!(
            "1 actor, {ACTORS} callers, one event per message, `persist_deferred` (÷ the baseline's {ACTORS}-writer row)"
        ),
        baseline: rate(ACTORS * PER_ACTOR, base),
        bactor: rate(HOT, hot_time),
    });

    // One actor, `persist_all` of 100 events per message; the baseline: one multi-row
    // insert of 100 rows at a time.
    let batch_id = format!("batch-{run_id}");
    let start = Instant::now();
    for b in 0..BATCHES {
        let rows = (0..BATCH)
            .map(|k| baseline::Row::added(&batch_id, b * BATCH + k + 1, k))
            .collect::<Vec<_>>();
        db.insert(&rows).await.unwrap();
    }
    let base = start.elapsed();
    let a = system
        .spawn_persistent(batch_id.clone(), Tally::default)
        .await
        .unwrap();
    let start = Instant::now();
    for b in 0..BATCHES {
        a.add_batch(b * BATCH).await.unwrap();
    }
    let batched = start.elapsed();
    assert_eq!(
        a.totals().await.unwrap(),
        (triangle(BATCH * BATCHES), BATCH * BATCHES, BATCH * BATCHES)
    );
    check_journal(&store, &batch_id, BATCH * BATCHES).await;
    cells.push(Cell {
        scenario: format!("1 actor, `persist_all` of {BATCH} events per message"),
        baseline: rate(BATCH * BATCHES, base),
        bactor: rate(BATCH * BATCHES, batched),
    });

    // One actor, one event per message, sequentially; the baseline: one insert per
    // event, in autocommit.
    let seq_id = format!("seq-{run_id}");
    let start = Instant::now();
    for n in 0..SEQUENTIAL {
        db.insert(&[baseline::Row::added(&seq_id, n + 1, n)])
            .await
            .unwrap();
    }
    let base = start.elapsed();
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
    cells.push(Cell {
        scenario: "1 actor, one event per message".into(),
        baseline: rate(SEQUENTIAL, base),
        bactor: rate(SEQUENTIAL, seq),
    });
    assert_eq!(
        db.count().await as u64,
        (round + 1) * (ACTORS * PER_ACTOR + BATCH * BATCHES + SEQUENTIAL + RECOVER) - RECOVER,
        "the baseline lost or duplicated rows"
    );

    // Recovery of RECOVER events, written in batches of 1000; the baseline selects them
    // in order and decodes each.
    let id = format!("recover-{run_id}");
    let mut high = 0;
    let mut seq = 0;
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
        let rows = (0..1000)
            .map(|n| {
                seq += 1;
                baseline::Row::added(&id, seq, n)
            })
            .collect::<Vec<_>>();
        db.insert(&rows).await.unwrap();
    }
    check_journal(&store, &id, RECOVER).await;
    let start = Instant::now();
    let rows = db.replay(&id).await;
    let mut sum = 0u64;
    for (i, (seq, payload)) in rows.iter().enumerate() {
        assert_eq!(*seq, i as i64 + 1);
        let Stored::Added { n } = serde_json::from_str(payload).unwrap();
        sum += n;
    }
    let base = start.elapsed();
    assert_eq!(
        (rows.len() as u64, sum),
        (RECOVER, (RECOVER / 1000) * triangle(1000))
    );
    let start = Instant::now();
    let r = system.spawn_persistent(id, Tally::default).await.unwrap();
    let totals = r.totals().await.unwrap();
    let rec = start.elapsed();
    // Every event applied once (the count), in full (the sum), up to the last one.
    assert_eq!(
        totals,
        ((RECOVER / 1000) * triangle(1000), RECOVER, RECOVER)
    );
    cells.push(Cell {
        scenario: format!("recovery of {RECOVER} events"),
        baseline: rate(RECOVER, base),
        bactor: rate(RECOVER, rec),
    });
    system.shutdown().await;
    cells
}

const ROUNDS: u64 = 5;

/// `ROUNDS` rounds on one backend; prints each scenario's medians (min–max) and the
/// ratio of the medians.
async fn bench<S>(name: &str, store: S, db: baseline::Db)
where
    S: Journal + SnapshotStore + Clone,
{
    db.create().await;
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        // In a task of the runtime, as an application's code runs (not on the thread
        // that blocks on `main`): the baseline and the actors alike.
        let round = tokio::spawn(run(store.clone(), db.clone(), round));
        rounds.push(round.await.unwrap());
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    for (i, c) in rounds[0].iter().enumerate() {
        let (b, bmin, bmax) = median(rounds.iter().map(|r| r[i].baseline).collect());
        let (o, omin, omax) = median(rounds.iter().map(|r| r[i].bactor).collect());
        println!(
            "| {name} | {} | {:.1} k/s ({:.1}–{:.1}) | {:.1} k/s ({:.1}–{:.1}) | {:.2}x |",
            c.scenario,
            b / 1e3,
            bmin / 1e3,
            bmax / 1e3,
            o / 1e3,
            omin / 1e3,
            omax / 1e3,
            o / b
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "{ROUNDS} rounds, the baseline first in each; medians (min–max), and the ratio of the medians\n"
    );
    println!("| backend | scenario | hand-written sqlx | bactor | bactor ÷ baseline |");
    println!("|---|---|---|---|---|");
    let path = std::env::temp_dir().join(format!("bactor-bench-{}.db", std::process::id()));
    let sqlite = SqliteStore::open(&path).await.unwrap();
    // The baseline on the same file, through a pool opened the same way.
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    bench(
        "SQLite (file, WAL, synchronous=NORMAL)",
        sqlite,
        baseline::Db::Sqlite(pool),
    )
    .await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = std::env::var("BACTOR_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("BACTOR_TEST_POSTGRES_URL"))
        .ok();
    match url {
        Some(url) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(&url)
                .await
                .unwrap();
            let store = PostgresStore::connect(&url).await.unwrap();
            // Both journals start empty, as on SQLite (a new file per run): the baseline's
            // table is created anew, bactor's emptied.
            sqlx::query("TRUNCATE bactor_journal, bactor_snapshot, bactor_tag, bactor_flush")
                .execute(store.pool())
                .await
                .unwrap();
            bench(
                "Postgres 15 (local, default settings)",
                store,
                baseline::Db::Postgres(pool),
            )
            .await;
        }
        None => println!("| Postgres | skipped: set BACTOR_BENCH_POSTGRES_URL | | | |"),
    }
}
