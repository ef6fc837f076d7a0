//! The built-in bounded and unbounded kinds: a [`Chan`] inside the actor's ref state. They
//! keep a path of their own (no trait object, no lock: a tell is one compare-and-swap and
//! a store) rather than going through [`Mailbox`](super::Mailbox), whose `pop` takes
//! `&self` and so would need a lock or a multi-consumer queue per actor.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::chan::{Chan, Refused, RxClaim};
use super::{Letter, MailboxConfig, UserTx};
use crate::actor_ref::RefInner;
use crate::error::TellError;

/// The sending half of a channel lane, inside the actor's [`RefInner`]. It allocates
/// nothing until the first message.
pub(crate) struct ChannelTx<M> {
    chan: Chan<Letter<M>>,
}

/// The receiving half of a channel lane, owned by the actor's task; it reaches the
/// channel through the actor's ref state.
pub(crate) struct ChannelRx<M> {
    owner: Arc<RefInner<M>>,
    /// This is the lane's one receiver (see [`Chan::claim_receiver`]).
    claim: Option<RxClaim>,
}

/// The sending half of a new lane: its receiver is made from the ref state that holds it
/// ([`ChannelRx::new`]).
pub(crate) fn sender<M>(config: MailboxConfig) -> ChannelTx<M> {
    let capacity = match config {
        MailboxConfig::Bounded(n) => Some(n),
        MailboxConfig::Unbounded => None,
    };
    ChannelTx {
        chan: Chan::new(capacity),
    }
}

impl<M> ChannelTx<M> {
    pub(crate) fn room(&self) -> &tokio::sync::Notify {
        self.chan.room()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Waits for room on a bounded lane.
    pub(crate) async fn send(&self, letter: Letter<M>) -> Result<(), Letter<M>> {
        self.chan.push(letter).await
    }

    #[inline]
    pub(crate) fn try_send(&self, letter: Letter<M>) -> Result<(), TellError<Letter<M>>> {
        self.chan.try_push(letter).map_err(|refused| match refused {
            Refused::Full(letter) => TellError::Full(letter),
            Refused::Closed(letter) => TellError::Dead(letter),
        })
    }
}

impl<M> ChannelRx<M> {
    /// The receiver of the channel lane held by `owner` (whose user lane is a
    /// [`ChannelTx`] with no other receiver; otherwise this one is closed and empty).
    pub(crate) fn new(owner: Arc<RefInner<M>>) -> Self {
        let claim = match &owner.user {
            UserTx::Channel(tx) => tx.chan.claim_receiver(),
            _ => None,
        };
        ChannelRx { owner, claim }
    }

    /// The channel and the claim on it, when this is its receiver.
    #[inline]
    fn chan(&mut self) -> Option<(&Chan<Letter<M>>, &mut RxClaim)> {
        match (&self.owner.user, &mut self.claim) {
            (UserTx::Channel(tx), Some(claim)) => Some((&tx.chan, claim)),
            _ => None,
        }
    }

    /// The next letter, if one is there.
    #[inline]
    pub(crate) fn try_pop(&mut self) -> Option<Letter<M>> {
        self.chan().and_then(|(chan, claim)| chan.try_pop(claim))
    }

    /// `Ready(true)` when [`try_pop`](ChannelRx::try_pop) has a letter, `Ready(false)`
    /// once the lane is closed and empty.
    #[inline]
    pub(crate) fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<bool> {
        match self.chan() {
            Some((chan, claim)) => chan.poll_ready(claim, cx),
            None => Poll::Ready(false),
        }
    }

    /// Refuses new messages; queued ones can still be taken.
    pub(crate) fn close(&mut self) {
        if let Some((chan, _)) = self.chan() {
            chan.close();
        }
    }

    /// The next letter; `Ready(None)` once the lane is closed and empty. After
    /// [`close`](ChannelRx::close) this also waits for a send that was admitted before
    /// the close but had not yet landed.
    pub(crate) fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Letter<M>>> {
        match self.chan() {
            Some((chan, claim)) => chan.poll_recv(claim, cx),
            None => Poll::Ready(None),
        }
    }
}

impl<M> Drop for ChannelRx<M> {
    fn drop(&mut self) {
        if let (UserTx::Channel(tx), Some(claim)) = (&self.owner.user, self.claim.take()) {
            tx.chan.release_receiver(claim);
        }
    }
}
