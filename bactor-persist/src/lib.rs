//! The event store behind bactor's persistence (the `persist` feature of `bactor`).
//!
//! This crate will hold the storage side of event sourcing, with no knowledge of actors:
//!
//! - the async `Journal` trait: append a batch of events for a persistence id atomically,
//!   with optimistic concurrency on the expected sequence number; replay a range; read the
//!   highest sequence number; delete up to a sequence number;
//! - the async `SnapshotStore` trait: save, load the newest matching criteria, delete;
//! - backends: SQLite through sqlx (the embedded default), Postgres through sqlx, and an
//!   in-memory store for tests, all passing one conformance suite modelled on Akka's
//!   persistence TCK;
//! - group commit: appends from many actors batched into one transaction per flush.
//!
//! Nothing is implemented yet: see the project README's status table.
