//! The conformance suite against SQLite: a private in-memory database per test, and one
//! file-backed case.
#![cfg(feature = "sqlite")]

bactor_persist::tck_tests!(async {
    Some(
        bactor_persist::SqliteStore::in_memory()
            .await
            .expect("sqlite"),
    )
});

mod file {
    use bactor_persist::{Journal, NewEvent, SqliteStore};

    /// Guards against hangs only.
    async fn bounded<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(std::time::Duration::from_secs(60), f)
            .await
            .expect("hung")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_database_keeps_its_journal_across_opens() {
        let dir = std::env::temp_dir().join(format!("bactor-sqlite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.db");
        let _ = std::fs::remove_file(&path);
        {
            let store = bounded(SqliteStore::open(&path)).await.unwrap();
            bounded(store.append(
                "a",
                0,
                vec![NewEvent::new("E", "1"), NewEvent::new("E", "2")],
            ))
            .await
            .unwrap();
            bounded(store.pool().close()).await;
        }
        let store = bounded(SqliteStore::open(&path)).await.unwrap();
        assert_eq!(bounded(store.highest_sequence_nr("a")).await.unwrap(), 2);
        assert!(
            bounded(store.append("a", 1, vec![NewEvent::new("E", "x")]))
                .await
                .unwrap_err()
                .is_conflict()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_writers_are_group_committed() {
        let store = bounded(SqliteStore::in_memory()).await.unwrap();
        let mut tasks = Vec::new();
        for w in 0..50 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("w{w}");
                for n in 0..20 {
                    bounded(store.append(&id, n, vec![NewEvent::new("E", format!("{n}"))]))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            bounded(t).await.unwrap();
        }
        for w in 0..50 {
            let id = format!("w{w}");
            assert_eq!(bounded(store.highest_sequence_nr(&id)).await.unwrap(), 20);
            let payloads: Vec<String> = bounded(store.replay(&id, 1, u64::MAX, u64::MAX))
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.payload)
                .collect();
            let written: Vec<String> = (0..20).map(|n| n.to_string()).collect();
            assert_eq!(payloads, written, "{id}");
        }
        // 1,000 appends from 50 concurrent writers shared flushes: without group commit
        // there would be one flush per append.
        let stats = store.commit_stats();
        assert_eq!(stats.appends, 1_000);
        assert!(
            stats.flushes < stats.appends / 2,
            "group commit did not batch: {stats:?}"
        );
    }

    /// On one thread the writer cannot run while the case queues its appends, so the
    /// mixed case's seven appends (two of them stale) are decided in one flush.
    #[tokio::test(flavor = "current_thread")]
    async fn conflicting_and_valid_appends_share_one_flush() {
        let store = SqliteStore::in_memory().await.unwrap();
        bounded(bactor_persist::tck::mixed_batch_refuses_only_the_conflicting_appends(&store))
            .await;
        let stats = store.commit_stats();
        // Three prefill appends, one at a time, then the seven together.
        assert_eq!(stats.appends, 10, "{stats:?}");
        assert_eq!(stats.flushes, 4, "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_racing_for_one_id_never_interleave() {
        let dir = std::env::temp_dir().join(format!("bactor-sqlite-race-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.db");
        let _ = std::fs::remove_file(&path);
        let a = bounded(SqliteStore::open(&path)).await.unwrap();
        let b = bounded(SqliteStore::open(&path)).await.unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            bactor_persist::tck::racing_stores(&a, &b, 30),
        )
        .await
        .expect("hung");
        bounded(a.pool().close()).await;
        bounded(b.pool().close()).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offsets_become_visible_in_order_across_stores_on_one_file() {
        let dir = std::env::temp_dir().join(format!("bactor-sqlite-order-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.db");
        let _ = std::fs::remove_file(&path);
        let a = bounded(SqliteStore::open(&path)).await.unwrap();
        let b = bounded(SqliteStore::open(&path)).await.unwrap();
        let reader = bounded(SqliteStore::open(&path)).await.unwrap();
        bounded(bactor_persist::tck::stores_commit_in_offset_order(
            &a, &b, &reader,
        ))
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_live_stream_wakes_on_this_stores_commits_without_polling() {
        use bactor_persist::EventStream;
        let store = bounded(SqliteStore::in_memory()).await.unwrap();
        // Polling once a minute: only the commit signal can deliver within the bound.
        let mut stream = EventStream::all(store.clone(), 0)
            .live()
            .poll_interval(std::time::Duration::from_secs(60));
        let reader = tokio::spawn(async move { stream.next().await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!reader.is_finished(), "nothing to read yet");
        bounded(store.append("a", 0, vec![NewEvent::new("E", "1")]))
            .await
            .unwrap();
        let first = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("woken by the commit")
            .unwrap()
            .expect("an event")
            .unwrap();
        assert_eq!((first.persistence_id.as_str(), first.offset), ("a", 1));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn offsets_of_events_written_before_the_migration_follow_their_order() {
        // A database as the first schema left it: no offsets, no tags.
        let dir = std::env::temp_dir().join(format!("bactor-sqlite-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.db");
        let _ = std::fs::remove_file(&path);
        {
            use sqlx::ConnectOptions as _;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .connect()
                .await
                .unwrap();
            sqlx::raw_sql(include_str!("../migrations/sqlite/0001_journal.sql"))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::raw_sql(
                "INSERT INTO bactor_journal (persistence_id, sequence_nr, manifest, payload, written_at) VALUES \
                 ('b', 1, 'E', '\"b1\"', 20), ('a', 1, 'E', '\"a1\"', 10), ('a', 2, 'E', '\"a2\"', 30)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            // What sqlx's migrator records for the first migration, so that the store
            // applies only the later ones.
            let store_dir =
                std::env::temp_dir().join(format!("bactor-sqlite-new-{}", std::process::id()));
            std::fs::create_dir_all(&store_dir).unwrap();
            let fresh = store_dir.join("fresh.db");
            let _ = std::fs::remove_file(&fresh);
            let made = bounded(SqliteStore::open(&fresh)).await.unwrap();
            let rows: Vec<(i64, String, bool, Vec<u8>, i64)> = sqlx::query_as(
                "SELECT version, description, success, checksum, execution_time FROM _sqlx_migrations WHERE version = 1",
            )
            .fetch_all(made.pool())
            .await
            .unwrap();
            bounded(made.pool().close()).await;
            sqlx::raw_sql(
                "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
                 installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
                 checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            for (version, description, success, checksum, time) in rows {
                sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?1, ?2, ?3, ?4, ?5)")
                    .bind(version)
                    .bind(description)
                    .bind(success)
                    .bind(checksum)
                    .bind(time)
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            let _ = std::fs::remove_dir_all(&store_dir);
        }
        let store = bounded(SqliteStore::open(&path)).await.unwrap();
        let all = bounded(bactor_persist::ReadJournal::all_events(&store, 0, 100))
            .await
            .unwrap();
        let order: Vec<(&str, u64, u64)> = all
            .iter()
            .map(|e| (e.persistence_id.as_str(), e.sequence_nr, e.offset))
            .collect();
        assert_eq!(order, [("a", 1, 1), ("b", 1, 2), ("a", 2, 3)]);
        // New events go after them.
        bounded(store.append("a", 2, vec![NewEvent::new("E", "\"a3\"").tagged(["t"])]))
            .await
            .unwrap();
        let tagged = bounded(bactor_persist::ReadJournal::events_by_tag(
            &store, "t", 0, 10,
        ))
        .await
        .unwrap();
        assert_eq!((tagged[0].offset, tagged[0].sequence_nr), (4, 3));
        bounded(store.pool().close()).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Deposits by account, as a read model in the journal's database.
    struct Balances {
        fail_on: Option<u64>,
    }

    impl bactor_persist::SqlEventHandler<sqlx::Sqlite> for Balances {
        async fn handle(
            &mut self,
            conn: &mut sqlx::SqliteConnection,
            e: &bactor_persist::EventEnvelope,
        ) -> Result<(), bactor_persist::HandlerError> {
            if self.fail_on == Some(e.sequence_nr) {
                return Err("refused".into());
            }
            sqlx::query(
                "INSERT INTO balances (account, total) VALUES (?1, CAST(?2 AS INTEGER)) \
                 ON CONFLICT (account) DO UPDATE SET total = total + excluded.total",
            )
            .bind(&e.persistence_id)
            .bind(&e.payload)
            .execute(conn)
            .await?;
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_transactional_projection_commits_its_read_model_with_its_offset() {
        let store = bounded(SqliteStore::in_memory()).await.unwrap();
        sqlx::query("CREATE TABLE balances (account TEXT PRIMARY KEY, total INTEGER NOT NULL)")
            .execute(store.pool())
            .await
            .unwrap();
        let deposits: Vec<NewEvent> = (1..=5)
            .map(|n| NewEvent::new("Deposited", n.to_string()).tagged(["deposit"]))
            .collect();
        bounded(store.append("acct", 0, deposits)).await.unwrap();
        let total = || async {
            sqlx::query_scalar::<_, i64>("SELECT total FROM balances WHERE account = 'acct'")
                .fetch_optional(store.pool())
                .await
                .unwrap()
        };
        let projection = bactor_persist::Projection::by_tag("balances", "deposit").page_size(2);
        // Fails on the 4th event: the page of 3 and 4 is rolled back, 1 and 2 stay.
        let err = bounded(projection.run_in_transaction(&store, Balances { fail_on: Some(4) }))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("`acct` #4"), "{err}");
        assert_eq!(total().await, Some(1 + 2));
        let run = bounded(projection.run_in_transaction(&store, Balances { fail_on: None }))
            .await
            .unwrap();
        assert_eq!((run.handled, run.offset), (3, 5));
        assert_eq!(total().await, Some(15), "each deposit counted once");
    }
}
