#![forbid(unsafe_code)]
//! The wire layer behind bactor's remoting (the `remote` feature of `bactor`).
//!
//! This crate moves bytes between nodes and knows nothing of actors (DESIGN §1): bactor's
//! `remote` feature puts actor semantics (refs, dispatch, watch, node down) on top. What it
//! holds:
//!
//! - [`proto`]: the protocol, `bactor.remote.v1` (compiled from `proto/` by protox at
//!   build time; no `protoc` needed): one bidirectional stream per pair of nodes, a
//!   handshake (`Hello`, `Challenge`, `Proof`, `Welcome` / `Refused`) carrying the node
//!   address, its incarnation and a proof of the shared cluster secret, then `Batch`
//!   frames of envelopes and `Control` frames (heartbeats, and system envelopes ahead of
//!   user traffic).
//! - [`BatchBuilder`] and [`unpack`]: batches of [`Envelope`]s with per-batch pid and name
//!   tables and the envelopes as compact records, built under an exact byte limit (a batch
//!   never exceeds the receiver's frame limit; an envelope too large even alone is
//!   refused, not sent), and unpacked with every flag, index and length checked;
//!   [`decode_frame`] refuses a frame over the limit before decoding. An envelope's
//!   [`Payload`] keeps up to 23 bytes inline and its method [`Name`] is a `&'static str`
//!   when known at compile time, so making one and dropping it on the writer's thread
//!   allocates nothing and touches no shared reference count.
//! - [`handshake`]: the handshake's state machine: mutual proof of the cluster secret
//!   (HMAC-SHA256 over fresh nonces from both sides, never the secret itself), protocol
//!   version and identities (address, incarnation, frame limit).
//! - [`endpoint`]: a node's endpoint over tonic: a server that accepts peers (refused
//!   before any envelope is read without the secret), one stream per pair of nodes used
//!   both ways, a writer per peer that drains its bounded queue into batches of whatever
//!   is pending under the peer's frame limit (set as the gRPC message limit both ways),
//!   a control lane, heartbeats, a peer timeout, reconnection with jittered exponential
//!   backoff, peers reported down or restarted, TLS (feature `tls`, rustls with ring),
//!   `TCP_NODELAY`, and every envelope that cannot be sent handed back.
//! - [`transport`]: the seam between an endpoint and the network (real TCP by default; a
//!   simulator such as turmoil in tests).

pub use bytes::{BufMut, Bytes, BytesMut};

mod batch;
pub mod endpoint;
pub mod handshake;
mod meter;
mod payload;
pub mod transport;

pub use batch::{
    BatchBuilder, Envelope, Kind, Limits, Push, WireError, WirePid, decode_frame, unpack,
};
pub use payload::{Name, Payload};

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
