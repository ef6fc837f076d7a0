//! What the SQL stores share. SQLite and Postgres differ in how they write (their group
//! commit backends) and in the text of their statements ([`Dialect`]); reading the journal,
//! the logical delete and the whole snapshot store are written once, here, for any
//! [`SqlBacked`] store.

use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use tokio::sync::watch;

use crate::batch::GroupCommit;
use crate::query::decode_tags;
use crate::{
    BoxFuture, EventEnvelope, EventRecord, Journal, NewEvent, OffsetStore, ReadJournal,
    ReplayedPayload, SnapshotCriteria, SnapshotRecord, SnapshotStore, StoreError, from_db,
    now_millis, to_db,
};

/// A SQL backend's statements. Each binds its parameters in the order given.
pub(crate) trait Dialect: Send + Sync + 'static {
    type Db: Database;
    /// `sequence_nr, manifest, payload, written_at` of the events of persistence id `1`
    /// with `2 <= sequence_nr <= 3`, not deleted, oldest first, at most `4`.
    const REPLAY: &'static str;
    /// As [`REPLAY`](Dialect::REPLAY), selecting `sequence_nr, payload` only.
    const REPLAY_PAYLOADS: &'static str;
    /// The highest sequence number of `1`, deleted events included; `NULL` for none.
    const HIGHEST: &'static str;
    /// Marks the events of `1` up to `2` deleted.
    const DELETE_TO: &'static str;
    /// Saves, or overwrites, the snapshot of `1` at `2`: `created_at` `3`, `manifest`
    /// `4`, `payload` `5`.
    const SAVE_SNAPSHOT: &'static str;
    /// `sequence_nr, created_at, manifest, payload` of the newest snapshot of `1` with
    /// `2 <= sequence_nr <= 3` and `4 <= created_at <= 5`.
    const LOAD_SNAPSHOT: &'static str;
    /// Deletes the snapshot of `1` at `2`.
    const DELETE_SNAPSHOT: &'static str;
    /// Deletes the snapshots of `1` matching as in
    /// [`LOAD_SNAPSHOT`](Dialect::LOAD_SNAPSHOT).
    const DELETE_SNAPSHOTS: &'static str;
    /// The `ENVELOPE` columns of the events tagged `1` with `ordering > 2`, not deleted, by
    /// ordering, at most `3`.
    const EVENTS_BY_TAG: &'static str;
    /// The `ENVELOPE` columns of the events with `ordering > 1`, not deleted, by ordering, at most
    /// `2`.
    const ALL_EVENTS: &'static str;
    /// The `ENVELOPE` columns of the events of `1` with `sequence_nr >= 2`, not deleted, by sequence
    /// number, at most `3`.
    const EVENTS_BY_ID: &'static str;
    /// The highest ordering; `NULL` for none.
    const HIGHEST_OFFSET: &'static str;
    /// The `last_offset` of projection `1`.
    const LOAD_OFFSET: &'static str;
    /// Saves `last_offset` `2` for projection `1`, at time `3`.
    const SAVE_OFFSET: &'static str;
}

/// What the query statements select, in this order: `ordering, persistence_id,
/// sequence_nr, manifest, payload, written_at, tags` (the `ENVELOPE` columns).
pub(crate) type EnvelopeRow = (i64, String, i64, String, String, i64, Option<String>);

pub(crate) fn envelope(
    (ordering, persistence_id, seq, manifest, payload, written_at, tags): EnvelopeRow,
) -> EventEnvelope {
    EventEnvelope {
        offset: from_db(ordering),
        persistence_id,
        sequence_nr: from_db(seq),
        manifest,
        payload,
        written_at,
        tags: decode_tags(tags.as_deref()),
    }
}

/// A store made of a pool and a group commit in a [`Dialect`]: `Journal` and
/// `SnapshotStore` come with it.
pub(crate) trait SqlBacked: Send + Sync + 'static {
    type Dialect: Dialect;
    fn sql_pool(&self) -> &Pool<<Self::Dialect as Dialect>::Db>;
    fn commits(&self) -> &GroupCommit;

    /// `ReadJournal::all_events`, for a store that reads it its own way (Postgres, by
    /// flush rows); `None` runs [`Dialect::ALL_EVENTS`].
    fn own_all_events(
        &self,
        _after: u64,
        _max: u64,
    ) -> Option<BoxFuture<'_, Result<Vec<EventEnvelope>, StoreError>>> {
        None
    }
}

/// The database of a SQL-backed store.
type Db<T> = <<T as SqlBacked>::Dialect as Dialect>::Db;
/// Its row type.
type DbRow<T> = <Db<T> as Database>::Row;

// The bounds below say what the statements need of a database: a pool that executes them,
// `&str` and `i64` parameters, and the rows they read. SQLite and Postgres have all of it.

impl<T> Journal for T
where
    T: SqlBacked,
    for<'c> &'c mut <Db<T> as Database>::Connection: Executor<'c, Database = Db<T>>,
    <Db<T> as Database>::Arguments: IntoArguments<Db<T>>,
    for<'q> &'q str: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'q> i64: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'r> (i64, String, String, i64): FromRow<'r, DbRow<T>>,
    for<'r> (i64, String): FromRow<'r, DbRow<T>>,
    for<'r> (Option<i64>,): FromRow<'r, DbRow<T>>,
{
    fn append<'a>(
        &'a self,
        persistence_id: &'a str,
        expected: u64,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.commits().append(persistence_id, expected, events))
    }

    fn replay<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        to: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, StoreError>> {
        Box::pin(async move {
            if from > to || max == 0 {
                return Ok(Vec::new());
            }
            let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(T::Dialect::REPLAY)
                .bind(persistence_id)
                .bind(to_db(from))
                .bind(to_db(to))
                .bind(to_db(max))
                .fetch_all(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(rows
                .into_iter()
                .map(|(seq, manifest, payload, written_at)| EventRecord {
                    persistence_id: persistence_id.to_owned(),
                    sequence_nr: from_db(seq),
                    manifest,
                    payload,
                    written_at,
                })
                .collect())
        })
    }

    fn replay_payloads<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        to: u64,
        max: u64,
        manifests: bool,
    ) -> BoxFuture<'a, Result<Vec<ReplayedPayload>, StoreError>> {
        Box::pin(async move {
            if manifests {
                return crate::payloads_of_replay(self, persistence_id, from, to, max, true).await;
            }
            if from > to || max == 0 {
                return Ok(Vec::new());
            }
            // Two columns, not four: every column read costs (a third of a recovery's
            // time on SQLite).
            let rows: Vec<(i64, String)> = sqlx::query_as(T::Dialect::REPLAY_PAYLOADS)
                .bind(persistence_id)
                .bind(to_db(from))
                .bind(to_db(to))
                .bind(to_db(max))
                .fetch_all(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(rows
                .into_iter()
                .map(|(seq, payload)| ReplayedPayload {
                    sequence_nr: from_db(seq),
                    manifest: None,
                    payload,
                })
                .collect())
        })
    }

    fn highest_sequence_nr<'a>(
        &'a self,
        persistence_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let n: Option<i64> = sqlx::query_scalar(T::Dialect::HIGHEST)
                .bind(persistence_id)
                .fetch_one(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(n.map_or(0, from_db))
        })
    }

    fn delete_to<'a>(
        &'a self,
        persistence_id: &'a str,
        to: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // Deletion is logical: the rows stay (not replayed), so the highest sequence
        // number is never reset and a stale writer still meets the primary key.
        Box::pin(execute_at(
            self.sql_pool(),
            T::Dialect::DELETE_TO,
            persistence_id,
            to,
        ))
    }
}

impl<T> SnapshotStore for T
where
    T: SqlBacked,
    for<'c> &'c mut <Db<T> as Database>::Connection: Executor<'c, Database = Db<T>>,
    <Db<T> as Database>::Arguments: IntoArguments<Db<T>>,
    for<'q> &'q str: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'q> i64: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'r> (i64, i64, String, String): FromRow<'r, DbRow<T>>,
{
    fn save<'a>(&'a self, s: SnapshotRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(T::Dialect::SAVE_SNAPSHOT)
                .bind(s.persistence_id.as_str())
                .bind(to_db(s.sequence_nr))
                .bind(s.created_at)
                .bind(s.manifest.as_str())
                .bind(s.payload.as_str())
                .execute(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(())
        })
    }

    fn load<'a>(
        &'a self,
        persistence_id: &'a str,
        c: SnapshotCriteria,
    ) -> BoxFuture<'a, Result<Option<SnapshotRecord>, StoreError>> {
        Box::pin(async move {
            let row: Option<(i64, i64, String, String)> = sqlx::query_as(T::Dialect::LOAD_SNAPSHOT)
                .bind(persistence_id)
                .bind(to_db(c.min_sequence_nr))
                .bind(to_db(c.max_sequence_nr))
                .bind(c.min_timestamp)
                .bind(c.max_timestamp)
                .fetch_optional(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(
                row.map(|(seq, created_at, manifest, payload)| SnapshotRecord {
                    persistence_id: persistence_id.to_owned(),
                    sequence_nr: from_db(seq),
                    created_at,
                    manifest,
                    payload,
                }),
            )
        })
    }

    fn delete<'a>(
        &'a self,
        persistence_id: &'a str,
        sequence_nr: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(execute_at(
            self.sql_pool(),
            T::Dialect::DELETE_SNAPSHOT,
            persistence_id,
            sequence_nr,
        ))
    }

    fn delete_matching<'a>(
        &'a self,
        persistence_id: &'a str,
        c: SnapshotCriteria,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query(T::Dialect::DELETE_SNAPSHOTS)
                .bind(persistence_id)
                .bind(to_db(c.min_sequence_nr))
                .bind(to_db(c.max_sequence_nr))
                .bind(c.min_timestamp)
                .bind(c.max_timestamp)
                .execute(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(())
        })
    }
}

impl<T> ReadJournal for T
where
    T: SqlBacked + Journal,
    for<'c> &'c mut <Db<T> as Database>::Connection: Executor<'c, Database = Db<T>>,
    <Db<T> as Database>::Arguments: IntoArguments<Db<T>>,
    for<'q> &'q str: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'q> i64: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'r> EnvelopeRow: FromRow<'r, DbRow<T>>,
    for<'r> (Option<i64>,): FromRow<'r, DbRow<T>>,
{
    fn events_by_tag<'a>(
        &'a self,
        tag: &'a str,
        after: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>> {
        Box::pin(envelopes_of(
            self.sql_pool(),
            T::Dialect::EVENTS_BY_TAG,
            tag,
            after,
            max,
        ))
    }

    fn all_events<'a>(
        &'a self,
        after: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>> {
        if let Some(own) = self.own_all_events(after, max) {
            return own;
        }
        Box::pin(async move {
            let rows: Vec<EnvelopeRow> = sqlx::query_as(T::Dialect::ALL_EVENTS)
                .bind(to_db(after))
                .bind(to_db(max))
                .fetch_all(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(rows.into_iter().map(envelope).collect())
        })
    }

    fn events_by_id<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>> {
        Box::pin(envelopes_of(
            self.sql_pool(),
            T::Dialect::EVENTS_BY_ID,
            persistence_id,
            from,
            max,
        ))
    }

    fn highest_offset<'a>(&'a self) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let n: Option<i64> = sqlx::query_scalar(T::Dialect::HIGHEST_OFFSET)
                .fetch_one(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(n.map_or(0, from_db))
        })
    }

    fn commit_signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.commits().subscribe())
    }
}

impl<T> OffsetStore for T
where
    T: SqlBacked,
    for<'c> &'c mut <Db<T> as Database>::Connection: Executor<'c, Database = Db<T>>,
    <Db<T> as Database>::Arguments: IntoArguments<Db<T>>,
    for<'q> &'q str: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'q> i64: Encode<'q, Db<T>> + Type<Db<T>>,
    for<'r> (i64,): FromRow<'r, DbRow<T>>,
{
    fn load_offset<'a>(
        &'a self,
        projection: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async move {
            let n: Option<i64> = sqlx::query_scalar(T::Dialect::LOAD_OFFSET)
                .bind(projection)
                .fetch_optional(self.sql_pool())
                .await
                .map_err(db_error)?;
            Ok(n.map(from_db))
        })
    }

    fn save_offset<'a>(
        &'a self,
        projection: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.sql_pool().acquire().await.map_err(db_error)?;
            save_offset_in::<T::Dialect>(&mut conn, projection, offset).await
        })
    }
}

/// The envelopes `sql` selects for a key (a tag or a persistence id), a position and a
/// count: the by-tag and by-id queries.
async fn envelopes_of<DB>(
    pool: &Pool<DB>,
    sql: &'static str,
    key: &str,
    position: u64,
    max: u64,
) -> Result<Vec<EventEnvelope>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> EnvelopeRow: FromRow<'r, DB::Row>,
{
    let rows: Vec<EnvelopeRow> = sqlx::query_as(sql)
        .bind(key)
        .bind(to_db(position))
        .bind(to_db(max))
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    Ok(rows.into_iter().map(envelope).collect())
}

/// Saves a projection's offset on `conn` (in its transaction, if it is in one).
pub(crate) async fn save_offset_in<D>(
    conn: &mut <D::Db as Database>::Connection,
    projection: &str,
    offset: u64,
) -> Result<(), StoreError>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    for<'q> &'q str: Encode<'q, D::Db> + Type<D::Db>,
    for<'q> i64: Encode<'q, D::Db> + Type<D::Db>,
{
    sqlx::query(D::SAVE_OFFSET)
        .bind(projection)
        .bind(to_db(offset))
        .bind(now_millis())
        .execute(conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Executes `sql` with a persistence id and a sequence number.
async fn execute_at<DB>(
    pool: &Pool<DB>,
    sql: &'static str,
    persistence_id: &str,
    sequence_nr: u64,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(sql)
        .bind(persistence_id)
        .bind(to_db(sequence_nr))
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}

pub(crate) fn db_error(e: sqlx::Error) -> crate::StoreError {
    crate::StoreError::backend(e)
}

/// A unique violation means another writer took a sequence number first; any other
/// error the database itself answered with refuses the statement (it may be one row's
/// fault); everything else (the connection, the pool) leaves no verdict.
pub(crate) fn write_error(e: sqlx::Error) -> crate::batch::WriteError {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => crate::batch::WriteError::Unique,
        Some(_) => crate::batch::WriteError::Rejected(db_error(e)),
        None => crate::batch::WriteError::Store(db_error(e)),
    }
}
