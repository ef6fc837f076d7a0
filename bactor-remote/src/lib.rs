//! The wire layer behind bactor's remoting (the `remote` feature of `bactor`).
//!
//! This crate will move bytes between nodes, with no knowledge of actor semantics:
//!
//! - one gRPC service (`bactor.remote.v1`, tonic + prost) with a bidirectional stream per
//!   pair of nodes, carrying batches of envelopes (target pid, sender pid, message kind,
//!   method, payload bytes, correlation id);
//! - batching, frames split below gRPC's size limit, reconnection after a peer restarts and
//!   a heartbeat lane ahead of user traffic;
//! - node endpoints, connections and membership records, TLS and a shared cluster secret.
//!
//! Nothing is implemented yet: see the project README's status table.
