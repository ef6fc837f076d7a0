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
}
