//! The conformance suite against the in-memory store.

bactor_persist::tck_tests!(async { Some(bactor_persist::MemoryStore::new()) });
