//! The wire layer behind bactor's remoting (the `remote` feature of `bactor`).
//!
//! This crate moves bytes between nodes and knows nothing of actors (DESIGN §1). What it
//! holds so far:
//!
//! - [`proto`]: the protocol, `bactor.remote.v1` (compiled from `proto/` by protox at
//!   build time; no `protoc` needed): one bidirectional stream per pair of nodes, a
//!   handshake (`Hello`, `Challenge`, `Proof`, `Welcome` / `Refused`) carrying the node
//!   address, its incarnation and a proof of the shared cluster secret, then `Batch`
//!   frames of envelopes and `Control` frames (heartbeats).
//! - [`BatchBuilder`] and [`unpack`]: batches of [`Envelope`]s with per-batch pid and name
//!   tables, built under an exact byte limit (a batch never exceeds the receiver's frame
//!   limit; an envelope too large even alone is refused, not sent), and unpacked with
//!   every index checked; [`decode_frame`] refuses a frame over the limit before decoding.
//! - [`handshake`]: the handshake's state machine: mutual proof of the cluster secret
//!   (HMAC-SHA256 over fresh nonces from both sides, never the secret itself), protocol
//!   version and identities (address, incarnation, frame limit).
//!
//! - [`endpoint`]: a node's endpoint over tonic: a server that accepts peers (the
//!   handshake first, refused before any envelope is read without the secret), one
//!   stream per pair of nodes used both ways, a writer per peer that drains its queue into
//!   batches of whatever is pending under the peer's frame limit (set as the gRPC message
//!   limit both ways), `TCP_NODELAY`, and every envelope that cannot be sent handed back.
//!
//! Still to come (see the project README's status table): heartbeats and node-down
//! detection, reconnection with backoff, TLS, and bactor's `remote` feature on top.

pub use bytes::{BufMut, Bytes, BytesMut};

mod batch;
pub mod endpoint;
pub mod handshake;
pub mod transport;

pub use batch::{
    BatchBuilder, Envelope, Kind, Limits, Push, WireError, WirePid, decode_frame, unpack,
};

/// The generated protocol types and the tonic service (`bactor.remote.v1`).
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::all,
    clippy::pedantic
)]
pub mod proto {
    tonic::include_proto!("bactor.remote.v1");
}
