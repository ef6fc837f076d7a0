//! Mailboxes.
//!
//! Every actor has two lanes:
//!
//! - the **system lane** (stop, child terminated, and later supervision and watch messages),
//!   unbounded and always served before the user lane: a `stop()` overtakes whatever user
//!   messages are queued;
//! - the **user lane**, carrying the actor's own message type by value, bounded by default.
//!   On a full bounded lane `tell` waits for room (back-pressure) and `try_tell` hands the
//!   message back in [`TellError::Full`](crate::TellError::Full). Nothing is dropped
//!   silently. [`MailboxConfig::Unbounded`] removes the bound.
//!
//! Messages from one sender to one actor are processed in the order they were sent.
//!
//! The actor takes user messages from its lane in batches of up to `throughput` (default
//! 300) and yields to the scheduler after each batch, so one busy actor cannot starve the
//! others on its thread. Before each message it checks the system lane. A message taken
//! into a batch no longer counts against the bound.

use std::task::{Context as TaskContext, Poll};

use tokio::sync::mpsc;

use crate::error::TellError;

/// How big an actor's user lane is.
///
/// Set per actor type with `#[actor(mailbox = 64)]` / `#[actor(mailbox = unbounded)]`, or per
/// spawn with [`Props::mailbox`](crate::Props::mailbox).
///
/// # Example
///
/// ```
/// use bactor::MailboxConfig;
///
/// assert_eq!(MailboxConfig::default(), MailboxConfig::Bounded(1024));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailboxConfig {
    /// At most this many queued messages; senders wait (or get `Full`) beyond that.
    Bounded(usize),
    /// No bound: `tell` never waits.
    Unbounded,
}

impl MailboxConfig {
    /// The default capacity of a bounded mailbox.
    pub const DEFAULT_CAPACITY: usize = 1024;
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig::Bounded(Self::DEFAULT_CAPACITY)
    }
}

/// The default number of messages an actor handles per turn before it yields.
pub const DEFAULT_THROUGHPUT: usize = 300;

/// What travels on the user lane.
pub(crate) enum Envelope<M> {
    Msg(M),
    /// A message with headers: boxed, so that every other envelope stays as small as
    /// its message.
    Headed(Box<(M, crate::Headers)>),
    /// Graceful stop: handled in order, after everything queued before it.
    Stop,
}

impl<M> Envelope<M> {
    /// `msg`, with `headers` if there are any.
    #[inline]
    pub(crate) fn new(msg: M, headers: &crate::Headers) -> Self {
        if headers.is_empty() {
            Envelope::Msg(msg)
        } else {
            Self::headed(msg, headers)
        }
    }

    #[cold]
    #[inline(never)]
    fn headed(msg: M, headers: &crate::Headers) -> Self {
        Envelope::Headed(Box::new((msg, headers.clone())))
    }
}

pub(crate) enum UserTx<M> {
    Bounded(mpsc::Sender<Envelope<M>>),
    Unbounded(mpsc::UnboundedSender<Envelope<M>>),
    /// An actor on another node (feature `remote`): messages are encoded and queued for
    /// that node.
    #[cfg(feature = "remote")]
    Remote(std::sync::Arc<crate::remote::Lane<M>>),
}

pub(crate) enum UserRx<M> {
    Bounded(mpsc::Receiver<Envelope<M>>),
    Unbounded(mpsc::UnboundedReceiver<Envelope<M>>),
}

pub(crate) fn user_lane<M>(config: MailboxConfig) -> (UserTx<M>, UserRx<M>) {
    match config {
        MailboxConfig::Bounded(cap) => {
            let (tx, rx) = mpsc::channel(cap.max(1));
            (UserTx::Bounded(tx), UserRx::Bounded(rx))
        }
        MailboxConfig::Unbounded => {
            let (tx, rx) = mpsc::unbounded_channel();
            (UserTx::Unbounded(tx), UserRx::Unbounded(rx))
        }
    }
}

impl<M> UserTx<M> {
    /// Waits for room on a bounded lane.
    #[inline]
    pub(crate) async fn send(&self, env: Envelope<M>) -> Result<(), Envelope<M>> {
        match self {
            UserTx::Bounded(tx) => tx.send(env).await.map_err(|e| e.0),
            UserTx::Unbounded(tx) => tx.send(env).map_err(|e| e.0),
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.send(env).await,
        }
    }

    #[inline]
    pub(crate) fn try_send(&self, env: Envelope<M>) -> Result<(), TellError<Envelope<M>>> {
        match self {
            UserTx::Bounded(tx) => tx.try_send(env).map_err(|e| match e {
                mpsc::error::TrySendError::Full(m) => TellError::Full(m),
                mpsc::error::TrySendError::Closed(m) => TellError::Dead(m),
            }),
            UserTx::Unbounded(tx) => tx.send(env).map_err(|e| TellError::Dead(e.0)),
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.try_send(env),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            UserTx::Bounded(tx) => tx.is_closed(),
            UserTx::Unbounded(tx) => tx.is_closed(),
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.is_closed(),
        }
    }
}

impl<M> UserRx<M> {
    /// Takes up to `limit` messages into `buf`; `Ready(0)` means closed and empty.
    #[inline]
    pub(crate) fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Envelope<M>>,
        limit: usize,
    ) -> Poll<usize> {
        match self {
            UserRx::Bounded(rx) => rx.poll_recv_many(cx, buf, limit),
            UserRx::Unbounded(rx) => rx.poll_recv_many(cx, buf, limit),
        }
    }

    /// Refuses new messages; queued ones can still be taken.
    pub(crate) fn close(&mut self) {
        match self {
            UserRx::Bounded(rx) => rx.close(),
            UserRx::Unbounded(rx) => rx.close(),
        }
    }

    /// The next message; `None` once the lane is closed and empty. After [`close`], this
    /// also waits for a send that was admitted before the close but had not yet landed,
    /// which `try_recv` would miss (it reports such a lane as empty).
    ///
    /// [`close`]: UserRx::close
    pub(crate) async fn recv(&mut self) -> Option<Envelope<M>> {
        match self {
            UserRx::Bounded(rx) => rx.recv().await,
            UserRx::Unbounded(rx) => rx.recv().await,
        }
    }

    pub(crate) fn try_recv(&mut self) -> Option<Envelope<M>> {
        match self {
            UserRx::Bounded(rx) => rx.try_recv().ok(),
            UserRx::Unbounded(rx) => rx.try_recv().ok(),
        }
    }
}
