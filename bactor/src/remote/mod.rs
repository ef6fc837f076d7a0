//! Remote actors (feature `remote`): nodes that reach each other's actors over gRPC.
//!
//! A [`Node`] is an [`ActorSystem`](crate::ActorSystem) with an endpoint of
//! [`bactor-remote`](bactor_remote): one bidirectional gRPC stream per pair of nodes,
//! authenticated by a shared cluster secret (and TLS with the `tls` feature and
//! `NodeBuilder::tls`). Actors written with
//! `#[actor(remote)]` can be reached from other nodes:
//!
//! - the same `{Name}Ref` works whether its actor is local or remote: each handler call
//!   is encoded on the caller's node (postcard by default, JSON per node with
//!   [`Codec::Json`]), decoded and dispatched on the actor's node;
//! - asks carry a correlation id and come back as typed values, handler errors included;
//!   an ask to an unknown or dead pid fails at once with [`AskError::Dead`], one that
//!   cannot be decoded there with [`AskError::Remote`];
//! - kinds registered with [`NodeBuilder::kind`] can be spawned by other nodes
//!   ([`Node::spawn_remote`]); named actors can be found ([`Node::lookup_remote`]);
//! - `stop()` and `ctx.watch(..)` work across nodes, over a control lane that never
//!   waits behind user traffic. When a node is lost (no heartbeat for the peer timeout,
//!   or no connection for the down timeout) every local watcher of its actors gets
//!   [`StopReason::NodeDown`] and pending asks to it fail with
//!   [`RemoteFailure::NodeDown`]; a node that comes back as a new run is recognised by
//!   its incarnation, and refs to its old run report dead;
//! - refs inside messages travel with their home node's address and arrive as working
//!   refs on the other node.
//!
//! Delivery is at most once, and messages from one sender to one actor keep their order.
//!
//! [`AskError::Dead`]: crate::AskError::Dead
//! [`AskError::Remote`]: crate::AskError::Remote
//! [`RemoteFailure::NodeDown`]: crate::RemoteFailure::NodeDown
//! [`StopReason::NodeDown`]: crate::StopReason::NodeDown

pub(crate) mod codec;
pub(crate) mod node;
mod target;

pub use bactor_remote::endpoint::EndpointConfig;
#[cfg(feature = "tls")]
pub use bactor_remote::endpoint::TlsConfig;
/// The network seam of a node: real TCP by default; a simulator (turmoil) in tests.
pub use bactor_remote::transport;
pub use codec::{Codec, CodecError};
pub use node::{Node, NodeBuilder, NodeError, RemoteError};

pub(crate) use node::NodeShared;
pub(crate) use target::{Lane, ReplySink, Target};

pub use codec::{decode_args, encode_args};
#[doc(hidden)]
pub use target::{PendingReply, ReplyChannel};

use crate::actor::Actor;

/// An actor that other nodes can reach: implemented by `#[actor(remote)]`.
///
/// The kind name identifies the actor type between nodes (the type's name unless
/// `#[actor(remote = "name")]` says otherwise): a node spawns a kind for another with
/// [`Node::spawn_remote`] when the kind was registered with [`NodeBuilder::kind`].
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
/// use bactor::remote::RemoteActor;
///
/// #[actor]
/// #[derive(Default)]
/// struct Counter {
///     count: u64,
/// }
///
/// #[actor(remote)]
/// impl Counter {
///     #[handler]
///     fn add(&mut self, by: u64) -> u64 {
///         self.count += by;
///         self.count
///     }
/// }
///
/// assert_eq!(Counter::KIND, "Counter");
/// ```
pub trait RemoteActor: Actor {
    /// The kind name, stable between builds and nodes.
    const KIND: &'static str;
}

/// What `#[actor(remote)]` generates for one actor type: its handlers' wire names and
/// the functions that encode and decode its messages.
#[doc(hidden)]
pub struct RemoteStub<A: Actor> {
    /// The kind name.
    pub kind: &'static str,
    /// The wire name of each handler (`Counter::add`), in declaration order.
    pub methods: &'static [&'static str],
    /// Encodes the arguments of a message into the buffer; returns its method's index.
    pub encode: fn(&A::Msg, Codec, &mut bactor_remote::BytesMut) -> Result<usize, CodecError>,
    /// Takes the reply slot out of a message that was queued for the wire.
    pub take_reply: fn(A::Msg) -> Option<Box<dyn PendingReply>>,
    /// Builds the message of the method with this index from its payload; `reply` is the
    /// reply channel of an ask. The reply channel is taken only when the message is built.
    #[allow(clippy::type_complexity)]
    pub decode: fn(usize, &[u8], Codec, &mut Option<ReplyChannel>) -> Result<A::Msg, CodecError>,
}

impl<A: Actor> Clone for RemoteStub<A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A: Actor> Copy for RemoteStub<A> {}

impl<A: Actor> std::fmt::Debug for RemoteStub<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStub")
            .field("kind", &self.kind)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

/// The node id of the node at `address`: a stable 64-bit hash (FNV-1a) of the address,
/// never 0 (the id of a system without a node).
pub(crate) fn node_id(address: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in address.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.max(1)
}

#[cfg(test)]
mod tests {
    use super::node_id;

    #[test]
    fn node_ids_are_stable_and_never_zero() {
        assert_eq!(node_id("127.0.0.1:4000"), node_id("127.0.0.1:4000"));
        assert_ne!(node_id("127.0.0.1:4000"), node_id("127.0.0.1:4001"));
        assert_ne!(node_id(""), 0);
        // FNV-1a of the empty string: the offset basis.
        assert_eq!(node_id(""), 0xcbf2_9ce4_8422_2325);
    }
}
