//! The Postgres store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::batch::{Append, BatchBackend, GroupCommit, Row, WriteError, plan};
use crate::sql::{Dialect, SqlBacked, db_error, write_error};
use crate::{BoxFuture, StoreError, from_db, to_db};

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
/// in order ([`ReadJournal`](crate::ReadJournal)). [`ReadJournal::all_events`] reads by
/// the index `bactor_journal_ordering`, which costs about 15 % of insert throughput: a
/// deployment that never queries all events may drop it (queries by tag and by id do not
/// use it).
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

/// Every insert into the journal takes this transaction-level advisory lock ("bactor")
/// before its rows take their offsets from the identity column, and holds it until its
/// commit: a transaction cannot number events before an earlier one is visible, so
/// offsets become visible in increasing order, whichever process writes.
/// `WITH lock AS MATERIALIZED (..)` runs it once, before the first row.
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

impl Backend {
    /// Every append's rows in one plain insert: all went in, or the statement failed (the
    /// primary key refused a stale one).
    async fn insert_all(&self, batch: &[Append], now: i64) -> Result<Vec<bool>, WriteError> {
        let Columns(pids, seqs, manifests, payloads, times, tags) =
            Columns::of(batch.iter().flat_map(|a| a.rows(now)).collect());
        sqlx::query(
            "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(108170419924850)) \
             INSERT INTO bactor_journal (persistence_id, sequence_nr, manifest, payload, written_at, tags) \
             SELECT p, s, m, j, w, t FROM lock, \
             UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[]) AS r(p, s, m, j, w, t)",
        )
        .bind(&pids)
        .bind(&seqs)
        .bind(&manifests)
        .bind(&payloads)
        .bind(&times)
        .bind(&tags)
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(vec![true; batch.len()])
    }
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
                return self.insert_all(batch, now).await;
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
            // One check per append that needs it (that the journal holds `expected`, as
            // of the statement's start), then its rows, all or none; the statement returns
            // the appends that went in.
            let accepted: Vec<i64> = sqlx::query_scalar(
                "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(108170419924850)), \
                 ok AS ( \
                   SELECT a.k FROM UNNEST($8::text[], $9::bigint[], $10::bool[]) \
                        WITH ORDINALITY AS a(p, e, c, k) \
                   WHERE NOT a.c OR a.e = 0 OR EXISTS (SELECT 1 FROM bactor_journal b \
                          WHERE b.persistence_id = a.p AND b.sequence_nr = a.e) \
                 ), ins AS ( \
                   INSERT INTO bactor_journal (persistence_id, sequence_nr, manifest, payload, written_at, tags) \
                   SELECT r.p, r.s, r.m, r.j, r.w, r.t FROM lock, \
                   UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[]) \
                        AS r(p, s, m, j, w, t, k) \
                   WHERE r.k IN (SELECT k FROM ok) \
                 ) \
                 SELECT k FROM ok",
            )
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
            if !rows.is_empty() {
                let Columns(pids, seqs, manifests, payloads, times, tags) = Columns::of(rows);
                sqlx::query(
                    "INSERT INTO bactor_journal (persistence_id, sequence_nr, manifest, payload, written_at, tags) \
                     SELECT p, s, m, j, w, t \
                     FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[]) \
                     AS r(p, s, m, j, w, t)",
                )
                .bind(&pids)
                .bind(&seqs)
                .bind(&manifests)
                .bind(&payloads)
                .bind(&times)
                .bind(&tags)
                .execute(&mut *tx)
                .await
                .map_err(write_error)?;
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
    const ALL_EVENTS: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_journal j WHERE j.ordering > $1 AND NOT j.deleted ORDER BY j.ordering LIMIT $2";
    const EVENTS_BY_ID: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_journal j WHERE j.persistence_id = $1 AND j.sequence_nr >= $2 AND NOT j.deleted \
             ORDER BY j.sequence_nr LIMIT $3";
    const HIGHEST_OFFSET: &'static str = "SELECT MAX(ordering) FROM bactor_journal";
    const LOAD_OFFSET: &'static str = "SELECT last_offset FROM bactor_offset WHERE projection = $1";
    const SAVE_OFFSET: &'static str = "INSERT INTO bactor_offset (projection, last_offset, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (projection) DO UPDATE SET last_offset = EXCLUDED.last_offset, updated_at = EXCLUDED.updated_at";
}
