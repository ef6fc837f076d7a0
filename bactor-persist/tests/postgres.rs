//! The conformance suite against a real Postgres server (see `bactor_persist::testing`):
//! skipped loudly without one, failing instead under `BACTOR_REQUIRE_SERVICES`.
#![cfg(feature = "postgres")]

async fn store() -> Option<bactor_persist::PostgresStore> {
    let url = bactor_persist::testing::postgres_url()?;
    Some(
        bactor_persist::PostgresStore::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}")),
    )
}

bactor_persist::tck_tests!(store());

mod extra {
    use std::time::Duration;

    use bactor_persist::{Journal, NewEvent, PostgresStore, StoreError, StoreErrorKind, tck};
    use sqlx::Connection as _;

    /// Guards against hangs only.
    const HANG: Duration = Duration::from_secs(30);

    async fn bounded<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(HANG, f).await.expect("hung")
    }

    /// `url` with an `application_name`, so the test can find the store's connections.
    fn named(url: &str, name: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}application_name={name}")
    }

    /// A store that does not know an id checks its append (the checked statement): its
    /// tags, offsets and flush row are written as by the plain one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checked_append_is_numbered_and_tagged_like_a_plain_one() {
        use bactor_persist::ReadJournal;
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let (a, b) = (
            bounded(PostgresStore::connect(&url)).await.unwrap(),
            bounded(PostgresStore::connect(&url)).await.unwrap(),
        );
        let (id, tag) = (tck::fresh_id("checked"), tck::fresh_id("checked-tag"));
        let start = bounded(a.highest_offset()).await.unwrap();
        let tagged = |p: &str| NewEvent::new("E", p).tagged([tag.as_str()]);
        bounded(a.append(&id, 0, vec![tagged("1"), NewEvent::new("E", "2")]))
            .await
            .unwrap();
        // b has not written `id`: its append is checked against the journal.
        bounded(b.append(&id, 2, vec![tagged("3"), tagged("4")]))
            .await
            .unwrap();
        let by_tag = bounded(b.events_by_tag(&tag, 0, 100)).await.unwrap();
        assert_eq!(
            by_tag.iter().map(|e| e.sequence_nr).collect::<Vec<_>>(),
            [1, 3, 4]
        );
        let all: Vec<_> = bounded(b.all_events(start, 10_000))
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.persistence_id == id)
            .collect();
        assert_eq!(
            all.iter().map(|e| e.sequence_nr).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!(all.windows(2).all(|w| w[0].offset < w[1].offset));
        for e in &by_tag {
            let same = all.iter().find(|x| x.sequence_nr == e.sequence_nr).unwrap();
            assert_eq!(same.offset, e.offset, "a tag row names its event's offset");
        }
        assert!(bounded(b.highest_offset()).await.unwrap() >= all[3].offset);
        // A refused checked append writes nothing.
        let other = tck::fresh_id("checked-other");
        bounded(a.append(&other, 0, vec![NewEvent::new("E", "x")]))
            .await
            .unwrap();
        assert!(
            bounded(b.append(&other, 5, vec![tagged("gap")]))
                .await
                .unwrap_err()
                .is_conflict()
        );
        assert_eq!(
            bounded(b.events_by_id(&other, 1, 100)).await.unwrap().len(),
            1
        );
        let by_tag = bounded(b.events_by_tag(&tag, 0, 100)).await.unwrap();
        assert_eq!(by_tag.len(), 3, "no tag row for the refused event");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_database_never_interleave() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let (a, b) = (
            bounded(PostgresStore::connect(&url)).await.unwrap(),
            bounded(PostgresStore::connect(&url)).await.unwrap(),
        );
        let id = tck::fresh_id("two-stores");
        bounded(a.append(&id, 0, vec![NewEvent::new("E", "\"a1\"")]))
            .await
            .unwrap();
        // b believes the journal is empty: refused, whichever way it is detected.
        assert!(
            bounded(b.append(&id, 0, vec![NewEvent::new("E", "\"b1\"")]))
                .await
                .unwrap_err()
                .is_conflict()
        );
        let events = bounded(b.replay(&id, 1, u64::MAX, u64::MAX)).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].payload, "\"a1\"");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_racing_for_one_id_never_interleave() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let a = bounded(PostgresStore::connect(&url)).await.unwrap();
        let b = bounded(PostgresStore::connect(&url)).await.unwrap();
        // Asserts every round: exactly one winner, a conflict for the loser, the journal
        // holding the winner's events only (as seen through both stores).
        bounded(tck::racing_stores(&a, &b, 50)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_connection_is_a_typed_error() {
        // A server that does not exist: connecting fails with a backend error, no panic.
        let err = bounded(PostgresStore::connect(
            "postgres://postgres@127.0.0.1:1/none",
        ))
        .await
        .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Backend, "{err:?}");
    }

    /// Terminates the server processes of the connections named `name` that are waiting
    /// on a lock (`waiting`) or idle; returns how many.
    async fn terminate(admin: &mut sqlx::PgConnection, name: &str, waiting: bool) -> i64 {
        let query = if waiting {
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'"
        } else {
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND state = 'idle'"
        };
        let killed: Vec<(bool,)> = sqlx::query_as(query)
            .bind(name)
            .fetch_all(admin)
            .await
            .unwrap();
        killed.len() as i64
    }

    /// Waits until a connection named `name` waits on a lock.
    async fn blocked(admin: &mut sqlx::PgConnection, name: &str) {
        bounded(async {
            loop {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE application_name = $1 AND wait_event_type = 'Lock'",
                )
                .bind(name)
                .fetch_one(&mut *admin)
                .await
                .unwrap();
                if n > 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }

    /// Locks the journal from another connection so that the store's next statement waits.
    /// The lock is held by a connection of its own: inside its transaction, a connection
    /// sees `pg_stat_activity` as of its first read, so it could not watch the store.
    async fn lock_journal(locker: &mut sqlx::PgConnection) {
        sqlx::query("BEGIN").execute(&mut *locker).await.unwrap();
        sqlx::query("LOCK TABLE bactor_journal IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *locker)
            .await
            .unwrap();
    }

    async fn unlock_journal(locker: &mut sqlx::PgConnection) {
        sqlx::query("COMMIT").execute(&mut *locker).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_lost_between_uses_is_replaced_or_a_typed_error() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let name = "bactor-lost-idle";
        let store = bounded(PostgresStore::connect(&named(&url, name)))
            .await
            .unwrap();
        let mut admin = bounded(sqlx::PgConnection::connect(&url)).await.unwrap();
        let id = tck::fresh_id("lost-idle");
        bounded(store.append(&id, 0, vec![NewEvent::new("E", "1")]))
            .await
            .unwrap();
        assert!(bounded(terminate(&mut admin, name, false)).await > 0);
        // Either the pool notices the closed socket and connects again, or the first use of
        // the dead connection fails with a backend error (no ping on checkout); both within
        // bounded time, and a failed append writes nothing.
        let mut next = 1;
        for n in 2..=4 {
            match bounded(store.append(&id, next, vec![NewEvent::new("E", format!("{n}"))])).await {
                Ok(seq) => next = seq,
                Err(StoreError::Backend(_)) => {}
                Err(other) => panic!("expected a backend error, got {other:?}"),
            }
        }
        assert!(
            next > 1,
            "the store never recovered from the lost connection"
        );
        // Later uses get fresh connections; the journal holds exactly what was acknowledged.
        let replayed = bounded(store.replay(&id, 1, u64::MAX, u64::MAX))
            .await
            .unwrap();
        assert_eq!(replayed.len() as u64, next);
        assert_eq!(bounded(store.highest_sequence_nr(&id)).await.unwrap(), next);
    }

    /// Runs `operation` on a store (named `name`, holding one event under a fresh id)
    /// while the journal is locked, kills the operation's server process once its
    /// statement waits for the lock, and returns its result with the store and the id.
    async fn killed_while_blocked<T, F>(
        url: &str,
        name: &str,
        operation: impl FnOnce(PostgresStore, String) -> F,
    ) -> (PostgresStore, String, Result<T, StoreError>)
    where
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let store = bounded(PostgresStore::connect(&named(url, name)))
            .await
            .unwrap();
        let mut admin = bounded(sqlx::PgConnection::connect(url)).await.unwrap();
        let mut locker = bounded(sqlx::PgConnection::connect(url)).await.unwrap();
        let id = tck::fresh_id(name);
        bounded(store.append(&id, 0, vec![NewEvent::new("E", "1")]))
            .await
            .unwrap();
        bounded(lock_journal(&mut locker)).await;
        let pending = tokio::spawn(bounded(operation(store.clone(), id.clone())));
        // The statement is on the server, waiting for the lock: kill it there.
        bounded(blocked(&mut admin, name)).await;
        assert_eq!(bounded(terminate(&mut admin, name, true)).await, 1);
        let result = bounded(pending).await.unwrap();
        bounded(unlock_journal(&mut locker)).await;
        (store, id, result)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_lost_mid_append_fails_that_append_and_writes_nothing() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let (store, id, result) =
            killed_while_blocked(&url, "bactor-lost-append", |store, id| async move {
                let events = vec![NewEvent::new("E", "2"), NewEvent::new("E", "3")];
                store.append(&id, 1, events).await
            })
            .await;
        assert!(
            matches!(result, Err(StoreError::Backend(_))),
            "expected a backend error, got {result:?}"
        );
        // Nothing of the failed batch went in; the group-commit writer carries on.
        assert_eq!(bounded(store.highest_sequence_nr(&id)).await.unwrap(), 1);
        assert_eq!(
            bounded(store.append(&id, 1, vec![NewEvent::new("E", "2")]))
                .await
                .unwrap(),
            2
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_lost_mid_replay_is_a_typed_error() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let (store, id, result) =
            killed_while_blocked(&url, "bactor-lost-replay", |store, id| async move {
                store.replay(&id, 1, u64::MAX, u64::MAX).await
            })
            .await;
        assert!(
            matches!(result, Err(StoreError::Backend(_))),
            "expected a backend error, got {result:?}"
        );
        let events = bounded(store.replay(&id, 1, u64::MAX, u64::MAX))
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
    }

    /// On one thread the group-commit writer cannot run while the appends are queued, so
    /// they share one flush: the payload the database refuses (a NUL character, which
    /// Postgres text cannot hold) fails its own append only.
    #[tokio::test(flavor = "current_thread")]
    async fn an_invalid_payload_fails_only_its_own_append_in_a_shared_flush() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let store = bounded(PostgresStore::connect(&url)).await.unwrap();
        let ids: Vec<String> = (0..4).map(|_| tck::fresh_id("bad-payload")).collect();
        let before = store.commit_stats();
        let (a, b, c, d) = tokio::join!(
            store.append(&ids[0], 0, vec![NewEvent::new("E", "1")]),
            store.append(&ids[1], 0, vec![NewEvent::new("E", "\"a\u{0}b\"")]),
            store.append(
                &ids[2],
                0,
                vec![NewEvent::new("E", "2"), NewEvent::new("E", "3")]
            ),
            store.append(&ids[3], 0, vec![NewEvent::new("E", "{\"ok\": true}")]),
        );
        assert_eq!(store.commit_stats().appends - before.appends, 4);
        assert_eq!(
            store.commit_stats().flushes - before.flushes,
            1,
            "one flush"
        );
        assert_eq!((a.unwrap(), c.unwrap(), d.unwrap()), (1, 2, 1));
        assert_eq!(b.map_err(|e| e.kind()), Err(StoreErrorKind::Backend));
        for (id, n) in ids.iter().zip([1, 0, 2, 1]) {
            assert_eq!(bounded(store.highest_sequence_nr(id)).await.unwrap(), n);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn json_objects_round_trip_byte_for_byte_and_can_be_queried() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let store = bounded(PostgresStore::connect(&url)).await.unwrap();
        let id = tck::fresh_id("jsonb");
        let written = r#"{"amount": 5, "note": "a \"quoted\" ünïcödé", "tags": [1, 2.5, null, true], "nested": {"z": 1, "a": {}}}"#;
        bounded(store.append(&id, 0, vec![NewEvent::new("Account::Deposited", written)]))
            .await
            .unwrap();
        let events = bounded(store.replay(&id, 1, u64::MAX, u64::MAX))
            .await
            .unwrap();
        // Text, as written: key order and spacing kept.
        assert_eq!(events[0].payload, written);
        assert_eq!(events[0].manifest, "Account::Deposited");
        // Queryable by operators as JSON.
        let (amount,): (i64,) = bounded(
            sqlx::query_as(
                "SELECT (payload::jsonb->>'amount')::bigint FROM bactor_journal \
                 WHERE persistence_id = $1",
            )
            .bind(&id)
            .fetch_one(store.pool()),
        )
        .await
        .unwrap();
        assert_eq!(amount, 5);
        // What the database cannot store (a NUL character): refused, as a typed error.
        let bad = bounded(store.append(&id, 1, vec![NewEvent::new("E", "\"a\u{0}b\"")]))
            .await
            .unwrap_err();
        assert_eq!(bad.kind(), StoreErrorKind::Backend, "{bad:?}");
        assert_eq!(bounded(store.highest_sequence_nr(&id)).await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offsets_become_visible_in_order_across_stores() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let a = bounded(PostgresStore::connect(&url)).await.unwrap();
        let b = bounded(PostgresStore::connect(&url)).await.unwrap();
        let reader = bounded(PostgresStore::connect(&url)).await.unwrap();
        tokio::time::timeout(
            Duration::from_secs(120),
            tck::stores_commit_in_offset_order(&a, &b, &reader),
        )
        .await
        .expect("hung");
    }

    /// Deposits by currency, as a read model in the journal's database.
    struct Balances {
        fail_on: Option<u64>,
    }

    impl bactor_persist::SqlEventHandler<sqlx::Postgres> for Balances {
        async fn handle(
            &mut self,
            conn: &mut sqlx::PgConnection,
            e: &bactor_persist::EventEnvelope,
        ) -> Result<(), bactor_persist::HandlerError> {
            if self.fail_on == Some(e.sequence_nr) {
                return Err("refused".into());
            }
            sqlx::query(
                "INSERT INTO test_balances (account, total) VALUES ($1, $2::bigint) \
                 ON CONFLICT (account) DO UPDATE SET total = test_balances.total + EXCLUDED.total",
            )
            .bind(&e.persistence_id)
            .bind(&e.payload)
            .execute(conn)
            .await?;
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transactional_projection_commits_its_read_model_with_its_offset() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let store = bounded(PostgresStore::connect(&url)).await.unwrap();
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS test_balances (account TEXT PRIMARY KEY, total BIGINT NOT NULL)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let (id, tag) = (tck::fresh_id("balance"), tck::fresh_id("balance-tag"));
        let deposits: Vec<NewEvent> = (1..=5)
            .map(|n| NewEvent::new("Deposited", n.to_string()).tagged([tag.as_str()]))
            .collect();
        bounded(store.append(&id, 0, deposits)).await.unwrap();
        let total = || async {
            sqlx::query_scalar::<_, i64>("SELECT total FROM test_balances WHERE account = $1")
                .bind(&id)
                .fetch_optional(store.pool())
                .await
                .unwrap()
        };
        let projection =
            bactor_persist::Projection::by_tag(tck::fresh_id("balances"), tag.clone()).page_size(2);
        // Fails on the 4th event: the page of 3 and 4 is rolled back, 1 and 2 stay.
        let err = bounded(projection.run_in_transaction(&store, Balances { fail_on: Some(4) }))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(&format!("`{id}` #4")), "{err}");
        assert_eq!(total().await, Some(1 + 2));
        let run = bounded(projection.run_in_transaction(&store, Balances { fail_on: None }))
            .await
            .unwrap();
        assert_eq!(run.handled, 3);
        assert_eq!(total().await, Some(15), "each deposit counted once");
        let again = bounded(projection.run_in_transaction(&store, Balances { fail_on: None }))
            .await
            .unwrap();
        assert_eq!((again.handled, total().await), (0, Some(15)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_written_before_the_offsets_migration_get_offsets_in_stored_order() {
        use bactor_persist::ReadJournal;
        use std::str::FromStr;
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        // The migration records of this database (applied by a first connect).
        let main = bounded(PostgresStore::connect(&url)).await.unwrap();
        let schema = format!(
            "mig_{}_{}",
            std::process::id(),
            bactor_persist::now_millis()
        );
        let options = sqlx::postgres::PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = bounded(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options),
        )
        .await
        .unwrap();
        // A journal as the first two migrations left it, with events in it.
        let setup = format!(
            "CREATE SCHEMA {schema};\n{}\n{}\n\
             INSERT INTO bactor_journal (persistence_id, sequence_nr, manifest, payload, written_at) VALUES \
             ('b', 1, 'E', '\"b1\"', 20), ('a', 1, 'E', '\"a1\"', 10), ('a', 2, 'E', '\"a2\"', 30);\n\
             CREATE TABLE _sqlx_migrations (LIKE public._sqlx_migrations INCLUDING ALL);\n\
             INSERT INTO _sqlx_migrations SELECT * FROM public._sqlx_migrations WHERE version < 3;",
            include_str!("../migrations/postgres/0001_journal.sql"),
            include_str!("../migrations/postgres/0002_text_payloads.sql"),
        );
        // The schema name is made above from numbers only.
        bounded(sqlx::raw_sql(sqlx::AssertSqlSafe(setup)).execute(&pool))
            .await
            .unwrap();
        let store = bounded(PostgresStore::from_pool(pool.clone()))
            .await
            .unwrap();
        let all = bounded(store.all_events(0, 100)).await.unwrap();
        let order: Vec<(&str, u64)> = all
            .iter()
            .map(|e| (e.persistence_id.as_str(), e.sequence_nr))
            .collect();
        assert_eq!(order, [("b", 1), ("a", 1), ("a", 2)], "numbered as stored");
        assert!(all.windows(2).all(|w| w[0].offset < w[1].offset));
        bounded(store.append("a", 2, vec![NewEvent::new("E", "\"a3\"").tagged(["t"])]))
            .await
            .unwrap();
        let tagged = bounded(store.events_by_tag("t", 0, 10)).await.unwrap();
        assert_eq!(tagged.len(), 1);
        assert!(tagged[0].offset > all[2].offset, "new events come after");
        bounded(
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(main.pool()),
        )
        .await
        .unwrap();
    }
}
