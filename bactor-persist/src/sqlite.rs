//! The SQLite store: the embedded default.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};

use crate::batch::{Append, BatchBackend, GroupCommit, Row, WriteError, plan};
use crate::sql::{Dialect, SqlBacked, db_error, write_error};
use crate::{BoxFuture, StoreError, from_db, to_db};

/// A journal and snapshot store in one SQLite database: a file, or private memory.
///
/// The schema is created on open by embedded migrations. The file is opened in WAL mode
/// with `synchronous = NORMAL`: a commit survives a crash of the process; a power loss may
/// lose the last commits. Appends from all actors go through one writer task that commits
/// whatever is pending in one transaction (group commit). Cheap to clone.
///
/// # Example
///
/// ```
/// use bactor_persist::{Journal, NewEvent, SqliteStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = SqliteStore::in_memory().await?;
/// store.append("account-1", 0, vec![NewEvent::new("Deposited", r#"{"amount":5}"#)]).await?;
/// let events = store.replay("account-1", 1, u64::MAX, u64::MAX).await?;
/// assert_eq!(events[0].payload, r#"{"amount":5}"#);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    commits: Arc<GroupCommit>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

struct Backend {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .row_buffer_size(ROW_BUFFER);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        Self::from_pool(pool).await
    }

    /// A private database in memory, gone when the last clone is dropped.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(db_error)?
            .row_buffer_size(ROW_BUFFER);
        // One connection that never closes: every connection to `:memory:` is a database
        // of its own.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        Self::from_pool(pool).await
    }
}

/// How many rows of a result the connection's thread reads ahead of the task that takes
/// them (sqlx's default is 50): a page of recovery (10,000 events) is read without waiting
/// for the task, which meanwhile applies the page before, and without waking it for every
/// few rows. Recovery of 100,000 events took 93 ms with 50, 63 ms with 10,000.
const ROW_BUFFER: usize = 10_000;

/// The start of every insert into the journal; [`push_rows`] adds the rows. Each row's
/// offset is its rowid (`ordering`), which SQLite numbers after the highest one, under the
/// write lock the insert holds: offsets increase in commit order.
const INSERT: &str = "INSERT INTO bactor_journal \
     (persistence_id, sequence_nr, manifest, payload, written_at, tags) ";

/// `rows` as a `VALUES` list, each followed by `extra` columns.
fn push_rows<'a, I, X>(q: &mut QueryBuilder<Sqlite>, rows: I, mut extra: X)
where
    I: IntoIterator<Item = (usize, Row<'a>)>,
    X: FnMut(&mut sqlx::query_builder::Separated<'_, Sqlite, &'static str>, usize),
{
    q.push_values(rows, |mut b, (k, r)| {
        b.push_bind(r.persistence_id)
            .push_bind(to_db(r.sequence_nr))
            .push_bind(r.manifest)
            .push_bind(r.payload)
            .push_bind(r.written_at)
            .push_bind(r.tags);
        extra(&mut b, k);
    });
}

impl Backend {
    /// Every append's rows in one plain multi-row insert: all went in, or the statement
    /// failed (the primary key refused a stale one).
    async fn insert_all(&self, batch: &[Append], now: i64) -> Result<Vec<bool>, WriteError> {
        let mut q = QueryBuilder::<Sqlite>::new(INSERT);
        push_rows(
            &mut q,
            batch.iter().flat_map(|a| a.rows(now)).map(|r| (0, r)),
            |_, _| {},
        );
        q.build().execute(&self.pool).await.map_err(write_error)?;
        Ok(vec![true; batch.len()])
    }
}

impl BatchBackend for Backend {
    const STORE: &'static str = "sqlite";

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
            // Each row carries the number of its append; the appends that may go in (no
            // check asked, or the journal holds `expected`) are listed once, by an
            // uncorrelated subquery that SQLite evaluates before inserting anything (it
            // materialises a SELECT that reads the table it inserts into).
            let mut q = QueryBuilder::<Sqlite>::new(INSERT);
            q.push(
                "SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6 FROM (",
            );
            let rows = batch
                .iter()
                .enumerate()
                .flat_map(|(k, a)| a.rows(now).map(move |r| (k, r)));
            push_rows(&mut q, rows, |b, k| {
                b.push_bind(k as i64);
            });
            q.push(") AS v WHERE v.column7 IN (SELECT a.column1 FROM (");
            q.push_values(batch.iter().zip(check).enumerate(), |mut b, (k, (a, c))| {
                b.push_bind(k as i64)
                    .push_bind(a.persistence_id.as_str())
                    .push_bind(to_db(a.expected))
                    .push_bind(*c);
            });
            q.push(
                ") AS a WHERE NOT a.column4 OR a.column3 = 0 OR EXISTS (SELECT 1 FROM bactor_journal j \
                 WHERE j.persistence_id = a.column2 AND j.sequence_nr = a.column3))",
            );
            if let [a] = batch {
                // One append: all its rows went in, or none did.
                let done = q.build().execute(&self.pool).await.map_err(write_error)?;
                return Ok(vec![done.rows_affected() == a.events.len() as u64]);
            }
            q.push(" RETURNING persistence_id, sequence_nr");
            let inserted: Vec<(String, i64)> = q
                .build_query_as()
                .fetch_all(&self.pool)
                .await
                .map_err(write_error)?;
            // An append went in when its first row did (it is all or none).
            let inserted: std::collections::HashSet<(&str, i64)> = inserted
                .iter()
                .map(|(id, seq)| (id.as_str(), *seq))
                .collect();
            Ok(batch
                .iter()
                .map(|a| inserted.contains(&(a.persistence_id.as_str(), to_db(a.expected + 1))))
                .collect())
        })
    }

    fn write<'a>(
        &'a self,
        ids: Vec<&'a str>,
        batch: &'a [Append],
    ) -> BoxFuture<'a, Result<Vec<Result<u64, StoreError>>, WriteError>> {
        Box::pin(async move {
            // IMMEDIATE: take the write lock up front, so the read of the highest sequence
            // numbers and the insert see the same journal.
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(write_error)?;
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT persistence_id, MAX(sequence_nr) FROM bactor_journal WHERE persistence_id IN (",
            );
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            q.push(") GROUP BY persistence_id");
            let found: Vec<(String, i64)> = q
                .build_query_as()
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
                let mut insert = QueryBuilder::<Sqlite>::new(INSERT);
                push_rows(&mut insert, rows.into_iter().map(|r| (0, r)), |_, _| {});
                insert
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(write_error)?;
            }
            tx.commit().await.map_err(write_error)?;
            Ok(results)
        })
    }
}

impl SqliteStore {
    /// Uses an existing pool; applies the migrations.
    ///
    /// [`open`](SqliteStore::open) sets the options this store is tuned for: WAL,
    /// `synchronous = NORMAL`, a busy timeout of 10 s, and
    /// [`row_buffer_size`](sqlx::sqlite::SqliteConnectOptions::row_buffer_size)`(10_000)`,
    /// which lets recovery read its next page while it applies one (a third faster than
    /// sqlx's default of 50).
    ///
    /// # Example
    ///
    /// ```
    /// use bactor_persist::SqliteStore;
    /// use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let options = SqliteConnectOptions::new()
    ///     .filename(":memory:")
    ///     .row_buffer_size(10_000);
    /// let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
    /// let store = SqliteStore::from_pool(pool).await?;
    /// # drop(store);
    /// # Ok(()) }
    /// ```
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::backend)?;
        let commits = GroupCommit::start(Arc::new(Backend { pool: pool.clone() }));
        Ok(SqliteStore {
            pool,
            commits: Arc::new(commits),
        })
    }

    /// How much group commit has batched so far.
    pub fn commit_stats(&self) -> crate::CommitStats {
        self.commits.stats()
    }

    /// The underlying pool (to inspect the tables, or to close the store).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Its statements: `Journal` and `SnapshotStore` are the shared ones (`sql`).
impl SqlBacked for SqliteStore {
    type Dialect = SqliteDialect;

    fn sql_pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn commits(&self) -> &GroupCommit {
        &self.commits
    }
}

impl crate::TransactionalStore for SqliteStore {
    type Db = sqlx::Sqlite;

    fn begin(&self) -> BoxFuture<'_, Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError>> {
        Box::pin(async move { self.pool.begin().await.map_err(db_error) })
    }

    fn save_offset_on<'a>(
        &'a self,
        conn: &'a mut <sqlx::Sqlite as sqlx::Database>::Connection,
        projection: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(crate::sql::save_offset_in::<SqliteDialect>(
            conn, projection, offset,
        ))
    }
}

pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = sqlx::Sqlite;
    const REPLAY: &'static str = "SELECT sequence_nr, manifest, payload, written_at FROM bactor_journal \
             WHERE persistence_id = ?1 AND sequence_nr >= ?2 AND sequence_nr <= ?3 AND deleted = 0 \
             ORDER BY sequence_nr LIMIT ?4";
    const REPLAY_PAYLOADS: &'static str = "SELECT sequence_nr, payload FROM bactor_journal \
             WHERE persistence_id = ?1 AND sequence_nr >= ?2 AND sequence_nr <= ?3 AND deleted = 0 \
             ORDER BY sequence_nr LIMIT ?4";
    const HIGHEST: &'static str =
        "SELECT MAX(sequence_nr) FROM bactor_journal WHERE persistence_id = ?1";
    const DELETE_TO: &'static str =
        "UPDATE bactor_journal SET deleted = 1 WHERE persistence_id = ?1 AND sequence_nr <= ?2";
    const SAVE_SNAPSHOT: &'static str = "INSERT INTO bactor_snapshot (persistence_id, sequence_nr, created_at, manifest, payload) \
                    VALUES (?1, ?2, ?3, ?4, ?5) \
                    ON CONFLICT (persistence_id, sequence_nr) DO UPDATE SET \
                    created_at = excluded.created_at, manifest = excluded.manifest, payload = excluded.payload";
    const LOAD_SNAPSHOT: &'static str = "SELECT sequence_nr, created_at, manifest, payload FROM bactor_snapshot \
                    WHERE persistence_id = ?1 AND sequence_nr BETWEEN ?2 AND ?3 AND created_at BETWEEN ?4 AND ?5 \
                    ORDER BY sequence_nr DESC LIMIT 1";
    const DELETE_SNAPSHOT: &'static str =
        "DELETE FROM bactor_snapshot WHERE persistence_id = ?1 AND sequence_nr = ?2";
    const DELETE_SNAPSHOTS: &'static str = "DELETE FROM bactor_snapshot WHERE persistence_id = ?1 \
                       AND sequence_nr BETWEEN ?2 AND ?3 AND created_at BETWEEN ?4 AND ?5";

    const EVENTS_BY_TAG: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_tag t JOIN bactor_journal j ON j.ordering = t.ordering \
             WHERE t.tag = ?1 AND t.ordering > ?2 AND j.deleted = 0 ORDER BY t.ordering LIMIT ?3";
    const ALL_EVENTS: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_journal j WHERE j.ordering > ?1 AND j.deleted = 0 ORDER BY j.ordering LIMIT ?2";
    const EVENTS_BY_ID: &'static str = "SELECT j.ordering, j.persistence_id, j.sequence_nr, j.manifest, j.payload, j.written_at, j.tags \
             FROM bactor_journal j WHERE j.persistence_id = ?1 AND j.sequence_nr >= ?2 AND j.deleted = 0 \
             ORDER BY j.sequence_nr LIMIT ?3";
    const HIGHEST_OFFSET: &'static str = "SELECT MAX(ordering) FROM bactor_journal";
    const LOAD_OFFSET: &'static str = "SELECT last_offset FROM bactor_offset WHERE projection = ?1";
    const SAVE_OFFSET: &'static str = "INSERT INTO bactor_offset (projection, last_offset, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (projection) DO UPDATE SET last_offset = excluded.last_offset, updated_at = excluded.updated_at";
}
