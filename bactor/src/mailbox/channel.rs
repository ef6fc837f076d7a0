//! The built-in bounded and unbounded kinds: a [`Chan`] inside the actor's ref state. They
//! keep a path of their own (no trait object, no lock: a tell is one compare-and-swap and
//! a store) rather than going through [`Mailbox`](super::Mailbox), whose `pop` takes
//! `&self` and so would need a lock or a multi-consumer queue per actor.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use super::chan::{Chan, Receiver, Refused};
use super::{Letter, MailboxConfig, UserTx};
use crate::actor_ref::RefInner;
use crate::error::TellError;

/// The sending half of a channel lane, inside the actor's [`RefInner`]. It allocates
/// nothing until the first message.
pub(crate) struct ChannelTx<M> {
    chan: Chan<Letter<M>>,
}

/// The receiving half of a channel lane, owned by the actor's task: the channel's one
/// receiver, holding the actor's ref state (where the channel lives); `None` when the
/// ref state has no channel lane, or one that has a receiver already.
pub(crate) struct ChannelRx<M> {
    rx: Option<Receiver<RefInner<M>, Letter<M>>>,
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

    /// Letters queued now.
    pub(crate) fn len(&self) -> u64 {
        self.chan.len()
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
        ChannelRx {
            rx: Receiver::new(owner, |owner| match &owner.user {
                UserTx::Channel(tx) => Some(&tx.chan),
                _ => None,
            }),
        }
    }

    /// The next letter, if one is there.
    #[inline]
    pub(crate) fn try_pop(&mut self) -> Option<Letter<M>> {
        self.rx.as_mut()?.try_pop()
    }

    /// Letters queued (or being pushed) now.
    pub(crate) fn queued(&self) -> u64 {
        self.rx.as_ref().map_or(0, |rx| rx.queued())
    }

    /// `Ready(true)` when [`try_pop`](ChannelRx::try_pop) has a letter, `Ready(false)`
    /// once the lane is closed and empty.
    #[inline]
    pub(crate) fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<bool> {
        match &mut self.rx {
            Some(rx) => rx.poll_ready(cx),
            None => Poll::Ready(false),
        }
    }

    /// Refuses new messages; queued ones can still be taken.
    pub(crate) fn close(&mut self) {
        if let Some(rx) = &self.rx {
            rx.close();
        }
    }

    /// The next letter; `Ready(None)` once the lane is closed and empty. After
    /// [`close`](ChannelRx::close) this also waits for a send that was admitted before
    /// the close but had not yet landed.
    pub(crate) fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Letter<M>>> {
        match &mut self.rx {
            Some(rx) => rx.poll_recv(cx),
            None => Poll::Ready(None),
        }
    }
}
