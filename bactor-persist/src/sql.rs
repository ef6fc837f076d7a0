//! What the SQL stores share: the journal reads, the logical delete and the whole snapshot
//! store differ between SQLite and Postgres only in their SQL, so one macro writes both
//! implementations from each backend's statements.

/// Implements `from_pool`, `commit_stats`, `pool`, `Journal` (appends through the store's group commit) and `SnapshotStore` for
/// a SQL store with fields `pool` and `commits`, from the backend's statements. Parameters
/// are bound in the order the statements number them.
macro_rules! sql_store {
    (
        $store:ident,
        pool: $pool:ty,
        migrations: $migrations:literal,
        replay: $replay:literal,
        replay_payloads: $replay_payloads:literal,
        highest: $highest:literal,
        delete_to: $delete_to:literal,
        save_snapshot: $save:literal,
        load_snapshot: $load:literal,
        delete_snapshot: $delete:literal,
        delete_snapshots: $delete_matching:literal $(,)?
    ) => {
        impl $store {
            /// Uses an existing pool; applies the migrations.
            pub async fn from_pool(pool: $pool) -> Result<Self, $crate::StoreError> {
                sqlx::migrate!($migrations)
                    .run(&pool)
                    .await
                    .map_err($crate::StoreError::backend)?;
                let backend = Backend { pool: pool.clone() };
                let commits = $crate::batch::GroupCommit::start(std::sync::Arc::new(backend));
                Ok($store {
                    pool,
                    commits: std::sync::Arc::new(commits),
                })
            }

            /// How much group commit has batched so far.
            pub fn commit_stats(&self) -> $crate::CommitStats {
                self.commits.stats()
            }

            /// The underlying pool (to inspect the tables, or to close the store).
            pub fn pool(&self) -> &$pool {
                &self.pool
            }
        }

        impl $crate::Journal for $store {
            fn append<'a>(
                &'a self,
                persistence_id: &'a str,
                expected: u64,
                events: Vec<$crate::NewEvent>,
            ) -> $crate::BoxFuture<'a, Result<u64, $crate::StoreError>> {
                Box::pin(self.commits.append(persistence_id, expected, events))
            }

            fn replay<'a>(
                &'a self,
                persistence_id: &'a str,
                from: u64,
                to: u64,
                max: u64,
            ) -> $crate::BoxFuture<'a, Result<Vec<$crate::EventRecord>, $crate::StoreError>> {
                Box::pin(async move {
                    if from > to || max == 0 {
                        return Ok(Vec::new());
                    }
                    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as($replay)
                        .bind(persistence_id)
                        .bind($crate::to_db(from))
                        .bind($crate::to_db(to))
                        .bind($crate::to_db(max))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(rows
                        .into_iter()
                        .map(|(seq, manifest, payload, written_at)| $crate::EventRecord {
                            persistence_id: persistence_id.to_owned(),
                            sequence_nr: $crate::from_db(seq),
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
            ) -> $crate::BoxFuture<'a, Result<Vec<$crate::ReplayedPayload>, $crate::StoreError>>
            {
                Box::pin(async move {
                    if from > to || max == 0 {
                        return Ok(Vec::new());
                    }
                    if manifests {
                        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as($replay)
                            .bind(persistence_id)
                            .bind($crate::to_db(from))
                            .bind($crate::to_db(to))
                            .bind($crate::to_db(max))
                            .fetch_all(&self.pool)
                            .await
                            .map_err($crate::StoreError::backend)?;
                        return Ok(rows
                            .into_iter()
                            .map(|(seq, manifest, payload, _)| $crate::ReplayedPayload {
                                sequence_nr: $crate::from_db(seq),
                                manifest: Some(manifest),
                                payload,
                            })
                            .collect());
                    }
                    // Two columns, not four: each column read costs (a third of a
                    // recovery's time on SQLite).
                    let rows: Vec<(i64, String)> = sqlx::query_as($replay_payloads)
                        .bind(persistence_id)
                        .bind($crate::to_db(from))
                        .bind($crate::to_db(to))
                        .bind($crate::to_db(max))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(rows
                        .into_iter()
                        .map(|(seq, payload)| $crate::ReplayedPayload {
                            sequence_nr: $crate::from_db(seq),
                            manifest: None,
                            payload,
                        })
                        .collect())
                })
            }

            fn highest_sequence_nr<'a>(
                &'a self,
                persistence_id: &'a str,
            ) -> $crate::BoxFuture<'a, Result<u64, $crate::StoreError>> {
                Box::pin(async move {
                    let n: Option<i64> = sqlx::query_scalar($highest)
                        .bind(persistence_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(n.map_or(0, $crate::from_db))
                })
            }

            fn delete_to<'a>(
                &'a self,
                persistence_id: &'a str,
                to: u64,
            ) -> $crate::BoxFuture<'a, Result<(), $crate::StoreError>> {
                Box::pin(async move {
                    // Deletion is logical: the rows stay (not replayed), so the highest
                    // sequence number is never reset and a stale writer still meets the
                    // primary key.
                    sqlx::query($delete_to)
                        .bind(persistence_id)
                        .bind($crate::to_db(to))
                        .execute(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(())
                })
            }
        }

        impl $crate::SnapshotStore for $store {
            fn save<'a>(
                &'a self,
                s: $crate::SnapshotRecord,
            ) -> $crate::BoxFuture<'a, Result<(), $crate::StoreError>> {
                Box::pin(async move {
                    sqlx::query($save)
                        .bind(&s.persistence_id)
                        .bind($crate::to_db(s.sequence_nr))
                        .bind(s.created_at)
                        .bind(&s.manifest)
                        .bind(&s.payload)
                        .execute(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(())
                })
            }

            fn load<'a>(
                &'a self,
                persistence_id: &'a str,
                c: $crate::SnapshotCriteria,
            ) -> $crate::BoxFuture<'a, Result<Option<$crate::SnapshotRecord>, $crate::StoreError>>
            {
                Box::pin(async move {
                    let row: Option<(i64, i64, String, String)> = sqlx::query_as($load)
                        .bind(persistence_id)
                        .bind($crate::to_db(c.min_sequence_nr))
                        .bind($crate::to_db(c.max_sequence_nr))
                        .bind(c.min_timestamp)
                        .bind(c.max_timestamp)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(row.map(
                        |(seq, created_at, manifest, payload)| $crate::SnapshotRecord {
                            persistence_id: persistence_id.to_owned(),
                            sequence_nr: $crate::from_db(seq),
                            created_at,
                            manifest,
                            payload,
                        },
                    ))
                })
            }

            fn delete<'a>(
                &'a self,
                persistence_id: &'a str,
                sequence_nr: u64,
            ) -> $crate::BoxFuture<'a, Result<(), $crate::StoreError>> {
                Box::pin(async move {
                    sqlx::query($delete)
                        .bind(persistence_id)
                        .bind($crate::to_db(sequence_nr))
                        .execute(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(())
                })
            }

            fn delete_matching<'a>(
                &'a self,
                persistence_id: &'a str,
                c: $crate::SnapshotCriteria,
            ) -> $crate::BoxFuture<'a, Result<(), $crate::StoreError>> {
                Box::pin(async move {
                    sqlx::query($delete_matching)
                        .bind(persistence_id)
                        .bind($crate::to_db(c.min_sequence_nr))
                        .bind($crate::to_db(c.max_sequence_nr))
                        .bind(c.min_timestamp)
                        .bind(c.max_timestamp)
                        .execute(&self.pool)
                        .await
                        .map_err($crate::StoreError::backend)?;
                    Ok(())
                })
            }
        }
    };
}

pub(crate) use sql_store;

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
