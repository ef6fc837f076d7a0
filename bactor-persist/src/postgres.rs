//! The Postgres store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::batch::{Append, BatchBackend, GroupCommit, Row, WriteError, plan};
use crate::sql::{Dialect, SqlBacked, db_error, write_error};
use crate::{BoxFuture, EventEnvelope, StoreError, from_db, to_db};

/// A journal and snapshot store in Postgres. Payloads are JSON text (`TEXT`, byte for byte
/// as written; cast to `jsonb` to query them).
///
/// The schema is created on connect by embedded migrations. Appends from all actors go
/// through one writer task that commits whatever is pending as one `INSERT ... SELECT FROM
/// UNNEST(...)` (group commit). Two stores (two processes) writing the same persistence id
/// are kept apart by the primary key: the later writer gets [`StoreError::Conflict`].
/// Cheap to clone.
///
/// Every insert holds a transaction-level advisory lock (key `108170419924850`) from the
/// moment its events take their offsets until it commits, so that offsets become visible
/// in order ([`ReadJournal`](crate::ReadJournal)). An insert numbers its events at once
/// (from the sequence `bactor_ordering`: one or two calls, not one per event) and writes
/// one row into `bactor_flush` naming its appends; [`ReadJournal::all_events`] reads
/// those rows in offset order and their events by primary key. There is no index on the
/// offset: it cost about half of the insert's time over a plain journal.
///
/// [`ReadJournal::all_events`]: crate::ReadJournal::all_events
///
/// # Example
///
/// ```no_run
/// use bactor_persist::{Journal, PostgresStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://postgres@localhost/bactor").await?;
/// assert_eq!(store.highest_sequence_nr("nobody").await?, 0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    commits: Arc<GroupCommit>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

struct Backend {
    pool: PgPool,
}

/// Rows as one array per column, for `UNNEST`: one statement whatever the batch size.
struct Columns<'a>(
    Vec<&'a str>,
    Vec<i64>,
    Vec<&'a str>,
    Vec<&'a str>,
    Vec<i64>,
    Vec<Option<String>>,
);

impl<'a> Columns<'a> {
    fn of(rows: Vec<Row<'a>>) -> Self {
        let n = rows.len();
        let mut c = Columns(
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for r in rows {
            c.0.push(r.persistence_id);
            c.1.push(to_db(r.sequence_nr));
            c.2.push(r.manifest);
            c.3.push(r.payload);
            c.4.push(r.written_at);
            c.5.push(r.tags);
        }
        c
    }
}

/// The appends of a flush's rows, in order: whose, the first sequence number, how many
/// (consecutive rows of one id with consecutive sequence numbers are one append).
struct Runs<'a>(Vec<&'a str>, Vec<i64>, Vec<i32>);

impl<'a> Runs<'a> {
    fn of(rows: &[Row<'a>]) -> Self {
        let mut runs = Runs(Vec::new(), Vec::new(), Vec::new());
        let mut next: Option<(&str, u64)> = None;
        for r in rows {
            if next == Some((r.persistence_id, r.sequence_nr)) {
                if let Some(n) = runs.2.last_mut() {
                    *n += 1;
                }
            } else {
                runs.0.push(r.persistence_id);
                runs.1.push(to_db(r.sequence_nr));
                runs.2.push(1);
            }
            next = Some((r.persistence_id, r.sequence_nr + 1));
        }
        runs
    }
}

/// A row of `bactor_flush` as `all_events` reads it: the last offset, and per append the
/// persistence id, first sequence number and size.
type FlushRow = (i64, Vec<String>, Vec<i64>, Vec<i32>);

/// Every insert into the journal takes this transaction-level advisory lock ("bactor")
/// before its rows take their offsets from the sequence `bactor_ordering`, and holds it
/// until its commit: a transaction cannot number events before an earlier one is
/// visible, so offsets become visible in increasing order, whichever process writes.
/// `WITH lock AS MATERIALIZED (..)` runs it once, before the numbers are taken.
const LOCK: &str = "SELECT pg_advisory_xact_lock(108170419924850)";

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies the
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_timeout(url, Duration::from_secs(10)).await
    }

    /// [`connect`](PostgresStore::connect), with how long an operation waits for a
    /// connection (10 s by default) before it fails: while the database is down, this is
    /// how soon writes and recoveries report it.
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(timeout)
            // A ping on every checkout cost up to 30 % of throughput; a dead connection
            // surfaces as an error on use instead.
            .test_before_acquire(false)
            .connect(url)
            .await
            .map_err(db_error)?;
        Self::from_pool(pool).await
    }
}

/// The `WITH` items that take the advisory lock, then offsets for `$count` events:
/// `n.base + 1` to `n.base + $count` (one `nextval` for one event, which logs the sequence
/// once in 32 calls; one `setval` for more, which logs it every time).
macro_rules! offsets {
    ($count:literal) => {
        concat!(
            "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(108170419924850)), \
             n AS MATERIALIZED (SELECT CASE WHEN ",
            $count,
            " = 1 THEN nextval('bactor_ordering') - 1 \
             ELSE setval('bactor_ordering', nextval('bactor_ordering') + ",
            $count,
            " - 1) - ",
            $count,
            " END AS base FROM lock)"
        )
    };
}

/// The `WITH` items that write the rows `r` (manifest `m`, payload `j`, place `o` from 1,
/// and with `tags` the tags `t`) into the journal at offsets `n.base + o`, with the
/// persistence id, sequence number and time of each row given as SQL; with `tags`, their
/// tags too.
macro_rules! write_rows {
    (pid = $p:literal, seq = $s:literal, at = $w:literal) => {
        concat!(
            ", ins AS (INSERT INTO bactor_journal \
               (persistence_id, sequence_nr, manifest, payload, written_at, ordering) \
               SELECT ",
            $p,
            ", ",
            $s,
            ", r.m, r.j, ",
            $w,
            ", n.base + r.o FROM n, r)"
        )
    };
    (pid = $p:literal, seq = $s:literal, at = $w:literal, tags) => {
        concat!(
            ", ins AS (INSERT INTO bactor_journal \
               (persistence_id, sequence_nr, manifest, payload, written_at, tags, ordering) \
               SELECT ",
            $p,
            ", ",
            $s,
            ", r.m, r.j, ",
            $w,
            ", r.t, n.base + r.o FROM n, r), \
             tagged AS (INSERT INTO bactor_tag (tag, ordering, persistence_id, sequence_nr) \
               SELECT x, n.base + r.o, ",
            $p,
            ", ",
            $s,
            " \
               FROM n, r, json_array_elements_text(r.t::json) AS x WHERE r.t IS NOT NULL)"
        )
    };
}

/// One append (the common flush: one busy actor), all or none: `$1` its persistence id,
/// `$2` its first sequence number, `$3` how many events, `$4` and `$5` their manifests
/// and payloads, `$6` the time, and with tags `$7` theirs. The id, sequence numbers and
/// time are sent once, not once per event. Writes its flush row.
macro_rules! insert_one {
    ($($tags:ident)?) => {
        concat!(
            offsets!("$3"),
            ", r AS (SELECT * FROM UNNEST($4::text[], $5::text[]",
            $(with_tags!($tags ", $7::text[]"),)?
            ") WITH ORDINALITY AS r(m, j, ",
            $(with_tags!($tags "t, "),)?
            "o))",
            write_rows!(pid = "$1", seq = "$2 + r.o - 1", at = "$6" $(, $tags)?),
            " INSERT INTO bactor_flush (last_ordering, events, persistence_ids, first_sequence_nrs, counts) \
             SELECT n.base + $3, $3, ARRAY[$1::text], ARRAY[$2::bigint], ARRAY[$3::int] FROM n"
        )
    };
}

/// `$sql`, in the statements with tags only.
macro_rules! with_tags {
    (tags $sql:literal) => {
        $sql
    };
}

/// Several appends' rows, all or none: `$1`..`$4` each row's persistence id, sequence
/// number, manifest and payload, `$5` the time, `$6` how many rows, `$7`..`$9` the
/// appends' ids, first sequence numbers and sizes (the flush row), and with tags `$10`
/// each row's.
macro_rules! insert_rows {
    ($($tags:ident)?) => {
        concat!(
            offsets!("$6"),
            ", r AS (SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[]",
            $(with_tags!($tags ", $10::text[]"),)?
            ") WITH ORDINALITY AS r(p, s, m, j, ",
            $(with_tags!($tags "t, "),)?
            "o))",
            write_rows!(pid = "r.p", seq = "r.s", at = "$5" $(, $tags)?),
            " INSERT INTO bactor_flush (last_ordering, events, persistence_ids, first_sequence_nrs, counts) \
             SELECT n.base + $6, $6, $7::text[], $8::bigint[], $9::int[] FROM n"
        )
    };
}

/// As `insert_rows`, for the appends that pass their check only (`$8`..`$10`: each
/// append's id, expected sequence number and whether to check it; `$7` the append of each
/// row, `$5` and `$6` each row's time and tags, `$11`, `$12` each append's first sequence
/// number and size): a check (that the journal holds `expected`, as of the statement's
/// start) per append that needs it, then its rows, all or none. Returns the appends that
/// went in.
macro_rules! insert_checked {
    ($($journal:tt)*) => {
        concat!(
            "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(108170419924850)), \
             ok AS MATERIALIZED ( \
               SELECT a.k FROM UNNEST($8::text[], $9::bigint[], $10::bool[]) WITH ORDINALITY AS a(p, e, c, k) \
               WHERE NOT a.c OR a.e = 0 OR EXISTS (SELECT 1 FROM bactor_journal b \
                      WHERE b.persistence_id = a.p AND b.sequence_nr = a.e)), \
             r AS MATERIALIZED ( \
               SELECT x.p, x.s, x.m, x.j, x.w, x.t, row_number() OVER (ORDER BY x.i) AS o \
               FROM lock, UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[]) \
                    WITH ORDINALITY AS x(p, s, m, j, w, t, k, i) \
               WHERE x.k IN (SELECT k FROM ok)), \
             c AS MATERIALIZED (SELECT count(*) AS c FROM r), \
             n AS MATERIALIZED ( \
               SELECT CASE WHEN c.c = 1 THEN nextval('bactor_ordering') - 1 \
                      WHEN c.c > 1 THEN setval('bactor_ordering', nextval('bactor_ordering') + c.c - 1) - c.c \
                      ELSE 0 END AS base, c.c FROM c)",
            $($journal)*,
            ", fl AS (INSERT INTO bactor_flush (last_ordering, events, persistence_ids, first_sequence_nrs, counts) \
               SELECT n.base + n.c, n.c, array_agg(a.p ORDER BY a.k), array_agg(a.f ORDER BY a.k), \
                      array_agg(a.n ORDER BY a.k) \
               FROM n, UNNEST($8::text[], $11::bigint[], $12::int[]) WITH ORDINALITY AS a(p, f, n, k) \
               WHERE n.c > 0 AND a.k IN (SELECT k FROM ok) GROUP BY n.base, n.c) \
             SELECT k FROM ok"
        )
    };
}

/// Without tags, then with them.
const INSERT_ONE: [&str; 2] = [insert_one!(), insert_one!(tags)];
const INSERT_ROWS: [&str; 2] = [insert_rows!(), insert_rows!(tags)];
const INSERT_CHECKED: [&str; 2] = [
    insert_checked!(write_rows!(pid = "r.p", seq = "r.s", at = "r.w")),
    insert_checked!(write_rows!(pid = "r.p", seq = "r.s", at = "r.w", tags)),
];

/// Every append's rows in one plain insert: all went in, or the statement failed (the
/// primary key refused a stale one). Usable inside a transaction that holds the lock.
async fn insert_all<'e, E>(executor: E, batch: &[Append], now: i64) -> Result<Vec<bool>, WriteError>
where
    E: sqlx::PgExecutor<'e>,
{
    match batch {
        [a] => insert_one(executor, a, now).await?,
        _ => {
            insert_rows(
                executor,
                batch.iter().flat_map(|a| a.rows(now)).collect(),
                now,
            )
            .await?
        }
    }
    Ok(vec![true; batch.len()])
}

/// One append's events in one insert, with their offsets, tags and flush row.
async fn insert_one<'e, E>(executor: E, a: &Append, now: i64) -> Result<(), WriteError>
where
    E: sqlx::PgExecutor<'e>,
{
    let manifests: Vec<&str> = a.events.iter().map(|e| e.manifest.as_str()).collect();
    let payloads: Vec<&str> = a.events.iter().map(|e| e.payload.as_str()).collect();
    let tags: Vec<Option<String>> = a
        .events
        .iter()
        .map(|e| crate::query::encode_tags(&e.tags))
        .collect();
    let tagged = tags.iter().any(Option::is_some);
    let q = sqlx::query(INSERT_ONE[usize::from(tagged)])
        .bind(a.persistence_id.as_str())
        .bind(to_db(a.expected + 1))
        .bind(a.events.len() as i64)
        .bind(&manifests)
        .bind(&payloads)
        .bind(now);
    let q = if tagged { q.bind(&tags) } else { q };
    q.execute(executor).await.map_err(write_error)?;
    Ok(())
}

/// `rows` (written at `now`) in one insert, with their offsets, tags and flush row.
/// Usable inside a transaction that holds the lock.
async fn insert_rows<'e, E>(executor: E, rows: Vec<Row<'_>>, now: i64) -> Result<(), WriteError>
where
    E: sqlx::PgExecutor<'e>,
{
    let count = rows.len() as i64;
    let Runs(ids, firsts, counts) = Runs::of(&rows);
    let Columns(pids, seqs, manifests, payloads, _, tags) = Columns::of(rows);
    let tagged = tags.iter().any(Option::is_some);
    let q = sqlx::query(INSERT_ROWS[usize::from(tagged)])
        .bind(&pids)
        .bind(&seqs)
        .bind(&manifests)
        .bind(&payloads)
        .bind(now)
        .bind(count)
        .bind(&ids)
        .bind(&firsts)
        .bind(&counts);
    let q = if tagged { q.bind(&tags) } else { q };
    q.execute(executor).await.map_err(write_error)?;
    Ok(())
}

impl BatchBackend for Backend {
    const STORE: &'static str = "postgres";

    fn insert_checked<'a>(
        &'a self,
        batch: &'a [Append],
        check: &'a [bool],
        now: i64,
    ) -> BoxFuture<'a, Result<Vec<bool>, WriteError>> {
        Box::pin(async move {
            if !check.contains(&true) {
                return insert_all(&self.pool, batch, now).await;
            }
            // Each row carries the number of its append (1-based, as `ORDINALITY`).
            let mut rows = Vec::new();
            let mut numbers = Vec::new();
            for (k, a) in batch.iter().enumerate() {
                rows.extend(a.rows(now));
                numbers.extend(std::iter::repeat_n(k as i64 + 1, a.events.len()));
            }
            let Columns(pids, seqs, manifests, payloads, times, tags) = Columns::of(rows);
            let ids: Vec<&str> = batch.iter().map(|a| a.persistence_id.as_str()).collect();
            let expected: Vec<i64> = batch.iter().map(|a| to_db(a.expected)).collect();
            let firsts: Vec<i64> = batch.iter().map(|a| to_db(a.expected + 1)).collect();
            let counts: Vec<i32> = batch
                .iter()
                .map(|a| i32::try_from(a.events.len()).unwrap_or(i32::MAX))
                .collect();
            let tagged = tags.iter().any(Option::is_some);
            let accepted: Vec<i64> = sqlx::query_scalar(INSERT_CHECKED[usize::from(tagged)])
                .bind(&pids)
                .bind(&seqs)
                .bind(&manifests)
                .bind(&payloads)
                .bind(&times)
                .bind(&tags)
                .bind(&numbers)
                .bind(&ids)
                .bind(&expected)
                .bind(check)
                .bind(&firsts)
                .bind(&counts)
                .fetch_all(&self.pool)
                .await
                .map_err(write_error)?;
            let mut went_in = vec![false; batch.len()];
            for k in accepted {
                if let Some(slot) = usize::try_from(k - 1).ok().and_then(|i| went_in.get_mut(i)) {
                    *slot = true;
                }
            }
            Ok(went_in)
        })
    }

    fn write<'a>(
        &'a self,
        ids: Vec<&'a str>,
        batch: &'a [Append],
    ) -> BoxFuture<'a, Result<Vec<Result<u64, StoreError>>, WriteError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await.map_err(write_error)?;
            sqlx::query(LOCK)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
            let found: Vec<(String, i64)> = sqlx::query_as(
                "SELECT persistence_id, MAX(sequence_nr) FROM bactor_journal \
                 WHERE persistence_id = ANY($1) GROUP BY persistence_id",
            )
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(write_error)?;
            let highest: HashMap<&str, u64> = ids
                .iter()
                .map(|id| {
                    let h = found
                        .iter()
                        .find(|(p, _)| p == id)
                        .map_or(0, |(_, n)| from_db(*n));
                    (*id, h)
                })
                .collect();
            let (results, rows) = plan(batch, highest);
            if let Some(now) = rows.first().map(|r| r.written_at) {
                insert_rows(&mut *tx, rows, now).await?;
            }
            tx.commit().await.map_err(write_error)?;
            Ok(results)
        })
    }
}

impl PostgresStore {
    /// Uses an existing pool; applies the migrations.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(StoreError::backend)?;
        let commits = GroupCommit::start(Arc::new(Backend { pool: pool.clone() }));
        Ok(PostgresStore {
            pool,
            commits: Arc::new(commits),
        })
    }

    /// How much group commit has batched so far.
    pub fn commit_stats(&self) -> crate::CommitStats {
        self.commits.stats()
    }

    /// The underlying pool (to inspect the tables, or to close the store).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Its statements: `Journal` and `SnapshotStore` are the shared ones (`sql`).
impl SqlBacked for PostgresStore {
    type Dialect = PostgresDialect;

    fn sql_pool(&self) -> &PgPool {
        &self.pool
    }

    fn commits(&self) -> &GroupCommit {
        &self.commits
    }

    /// Reads the flush rows after `after` in offset order, then their events by primary
    /// key; again from the last flush read while the page is short (deleted events, or a
    /// first flush partly at or before `after`) and flushes remain.
    fn own_all_events(
        &self,
        after: u64,
        max: u64,
    ) -> Option<BoxFuture<'_, Result<Vec<EventEnvelope>, StoreError>>> {
        Some(Box::pin(async move {
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            let mut out: Vec<EventEnvelope> = Vec::new();
            let mut cursor = to_db(after);
            while out.len() < max {
                let wanted = (max - out.len()).min(10_000) as i64;
                // Flushes in offset order, until they hold `wanted` events.
                let flushes: Vec<FlushRow> = sqlx::query_as(
                    "SELECT last_ordering, persistence_ids, first_sequence_nrs, counts FROM ( \
                       SELECT *, SUM(events) OVER (ORDER BY last_ordering) - events AS before \
                       FROM (SELECT * FROM bactor_flush WHERE last_ordering > $1 \
                             ORDER BY last_ordering LIMIT $2) f \
                     ) f WHERE before < $2 ORDER BY last_ordering",
                )
                .bind(cursor)
                .bind(wanted)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                let Some(&(last, ..)) = flushes.last() else {
                    break;
                };
                let (mut ids, mut firsts, mut counts) = (Vec::new(), Vec::new(), Vec::new());
                for (_, i, f, c) in flushes {
                    ids.extend(i);
                    firsts.extend(f);
                    counts.extend(c);
                }
                let rows: Vec<crate::sql::EnvelopeRow> = sqlx::query_as(
                    "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
                     FROM UNNEST($1::text[], $2::bigint[], $3::int[]) AS u(p, f, n) \
                     JOIN bactor_journal j ON j.persistence_id = u.p \
                          AND j.sequence_nr >= u.f AND j.sequence_nr < u.f + u.n \
                     WHERE j.ordering > $4 AND NOT j.deleted ORDER BY j.ordering LIMIT $5",
                )
                .bind(&ids)
                .bind(&firsts)
                .bind(&counts)
                .bind(to_db(after))
                .bind((max - out.len()) as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                out.extend(rows.into_iter().map(crate::sql::envelope));
                cursor = last;
            }
            Ok(out)
        }))
    }
}

impl crate::TransactionalStore for PostgresStore {
    type Db = sqlx::Postgres;

    fn begin(
        &self,
    ) -> BoxFuture<'_, Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError>> {
        Box::pin(async move { self.pool.begin().await.map_err(db_error) })
    }

    fn save_offset_on<'a>(
        &'a self,
        conn: &'a mut <sqlx::Postgres as sqlx::Database>::Connection,
        projection: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(crate::sql::save_offset_in::<PostgresDialect>(
            conn, projection, offset,
        ))
    }
}

pub(crate) struct PostgresDialect;

impl Dialect for PostgresDialect {
    type Db = sqlx::Postgres;
    const REPLAY: &'static str = "SELECT sequence_nr, manifest, payload, written_at FROM bactor_journal \
             WHERE persistence_id = $1 AND sequence_nr >= $2 AND sequence_nr <= $3 AND NOT deleted \
             ORDER BY sequence_nr LIMIT $4";
    const REPLAY_PAYLOADS: &'static str = "SELECT sequence_nr, payload FROM bactor_journal \
             WHERE persistence_id = $1 AND sequence_nr >= $2 AND sequence_nr <= $3 AND NOT deleted \
             ORDER BY sequence_nr LIMIT $4";
    const HIGHEST: &'static str =
        "SELECT MAX(sequence_nr) FROM bactor_journal WHERE persistence_id = $1";
    const DELETE_TO: &'static str =
        "UPDATE bactor_journal SET deleted = TRUE WHERE persistence_id = $1 AND sequence_nr <= $2";
    const SAVE_SNAPSHOT: &'static str = "INSERT INTO bactor_snapshot (persistence_id, sequence_nr, created_at, manifest, payload) \
                    VALUES ($1, $2, $3, $4, $5) \
                    ON CONFLICT (persistence_id, sequence_nr) DO UPDATE SET \
                    created_at = EXCLUDED.created_at, manifest = EXCLUDED.manifest, payload = EXCLUDED.payload";
    const LOAD_SNAPSHOT: &'static str = "SELECT sequence_nr, created_at, manifest, payload FROM bactor_snapshot \
                    WHERE persistence_id = $1 AND sequence_nr BETWEEN $2 AND $3 AND created_at BETWEEN $4 AND $5 \
                    ORDER BY sequence_nr DESC LIMIT 1";
    const DELETE_SNAPSHOT: &'static str =
        "DELETE FROM bactor_snapshot WHERE persistence_id = $1 AND sequence_nr = $2";
    const DELETE_SNAPSHOTS: &'static str = "DELETE FROM bactor_snapshot WHERE persistence_id = $1 \
                       AND sequence_nr BETWEEN $2 AND $3 AND created_at BETWEEN $4 AND $5";

    const EVENTS_BY_TAG: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_tag t JOIN bactor_journal j \
             ON j.persistence_id = t.persistence_id AND j.sequence_nr = t.sequence_nr \
             WHERE t.tag = $1 AND t.ordering > $2 AND NOT j.deleted ORDER BY t.ordering LIMIT $3";
    // Not used: `own_all_events` reads by flush rows (`ordering` has no index).
    const ALL_EVENTS: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_journal j WHERE j.ordering > $1 AND NOT j.deleted ORDER BY j.ordering LIMIT $2";
    const EVENTS_BY_ID: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_journal j WHERE j.persistence_id = $1 AND j.sequence_nr >= $2 AND NOT j.deleted \
             ORDER BY j.sequence_nr LIMIT $3";
    const HIGHEST_OFFSET: &'static str = "SELECT MAX(last_ordering) FROM bactor_flush";
    const LOAD_OFFSET: &'static str = "SELECT last_offset FROM bactor_offset WHERE projection = $1";
    const SAVE_OFFSET: &'static str = "INSERT INTO bactor_offset (projection, last_offset, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (projection) DO UPDATE SET last_offset = EXCLUDED.last_offset, updated_at = EXCLUDED.updated_at";
}
