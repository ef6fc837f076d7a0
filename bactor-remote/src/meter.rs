//! Remote traffic metrics (feature `metrics`): bytes and envelopes per peer, reconnects
//! and nodes down, through the `metrics` crate. Without the feature everything here is
//! empty and compiles away.

/// Frames and envelopes one way on the stream to or from one peer.
#[derive(Clone)]
pub(crate) struct Traffic {
    #[cfg(feature = "metrics")]
    bytes: metrics::Counter,
    #[cfg(feature = "metrics")]
    messages: metrics::Counter,
}

impl Traffic {
    /// What this node sends to `peer`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn sent(peer: &str) -> Self {
        Traffic {
            #[cfg(feature = "metrics")]
            bytes: metrics::counter!("bactor_remote_sent_bytes_total", "peer" => peer.to_owned()),
            #[cfg(feature = "metrics")]
            messages: metrics::counter!("bactor_remote_sent_messages_total", "peer" => peer.to_owned()),
        }
    }

    /// What this node receives from `peer`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn received(peer: &str) -> Self {
        Traffic {
            #[cfg(feature = "metrics")]
            bytes: metrics::counter!("bactor_remote_received_bytes_total", "peer" => peer.to_owned()),
            #[cfg(feature = "metrics")]
            messages: metrics::counter!("bactor_remote_received_messages_total", "peer" => peer.to_owned()),
        }
    }

    /// One frame of `bytes` carrying `messages` envelopes.
    #[inline]
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn frame(&self, bytes: usize, messages: usize) {
        #[cfg(feature = "metrics")]
        {
            self.bytes.increment(bytes as u64);
            self.messages.increment(messages as u64);
        }
    }
}

/// `peer` is dialled again (after a lost stream or a failed dial).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn reconnect(peer: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("bactor_remote_reconnects_total", "peer" => peer.to_owned()).increment(1);
}

/// `peer` was reported down.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn node_down(peer: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("bactor_remote_node_down_total", "peer" => peer.to_owned()).increment(1);
}
