//! The conformance suite against a real Postgres server (see `bactor_persist::testing`):
//! skipped loudly without one, failing instead with `BACTOR_REQUIRE_SERVICES=1`.
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
    use bactor_persist::{Journal, NewEvent, PostgresStore};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_database_never_interleave() {
        let Some(url) = bactor_persist::testing::postgres_url() else {
            return;
        };
        let (a, b) = (
            PostgresStore::connect(&url).await.unwrap(),
            PostgresStore::connect(&url).await.unwrap(),
        );
        let id = bactor_persist::tck::fresh_id("two-stores");
        a.append(&id, 0, vec![NewEvent::new("E", "\"a1\"")])
            .await
            .unwrap();
        // b believes the journal is empty: refused, whichever way it is detected.
        assert!(
            b.append(&id, 0, vec![NewEvent::new("E", "\"b1\"")])
                .await
                .unwrap_err()
                .is_conflict()
        );
        let events = b.replay(&id, 1, u64::MAX, u64::MAX).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].payload, "\"a1\"");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_connection_is_a_typed_error() {
        // A server that does not exist: connecting fails with a backend error, no panic.
        let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/none")
            .await
            .unwrap_err();
        assert!(
            matches!(err, bactor_persist::StoreError::Backend(_)),
            "{err:?}"
        );
    }
}
