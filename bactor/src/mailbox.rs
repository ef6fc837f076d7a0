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
//! Neither lane allocates before its first message: an actor that is never sent anything
//! costs its task and its ref (about 1.3 KB resident in all, `benches/RESULTS.md`).
//!
//! The actor takes user messages from its lane in batches of up to `throughput` (default
//! 300) and yields to the scheduler after each batch, so one busy actor cannot starve the
//! others on its thread. Before each message it checks the system lane. A message taken
//! into a batch no longer counts against the bound.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context as TaskContext, Poll};

use atomic_waker::AtomicWaker;
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

/// The sending half of a user lane.
pub(crate) enum UserTx<M> {
    /// An actor on this node.
    Local(LocalTx<M>),
    /// An actor on another node (feature `remote`): messages are encoded and queued for
    /// that node.
    #[cfg(feature = "remote")]
    Remote(std::sync::Arc<crate::remote::Lane<M>>),
}

/// A tokio channel, bounded or not.
enum Tx<M> {
    Bounded(mpsc::Sender<Envelope<M>>),
    Unbounded(mpsc::UnboundedSender<Envelope<M>>),
}

enum Rx<M> {
    Bounded(mpsc::Receiver<Envelope<M>>),
    Unbounded(mpsc::UnboundedReceiver<Envelope<M>>),
}

/// A local lane's channel is made by its first send, not at spawn: most of its bytes (a
/// 512-byte channel and a first block of 32 envelopes) are then never spent on an actor
/// that is never sent anything. Until the actor's task takes the receiver, it waits here.
struct Handoff<M> {
    config: MailboxConfig,
    /// The receiver closed before any channel was made: none will be. Set under `rx`.
    closed: AtomicBool,
    /// The actor's task, waiting for the channel to be made.
    waker: AtomicWaker,
    rx: Mutex<Option<Rx<M>>>,
}

impl<M> Handoff<M> {
    fn rx(&self) -> MutexGuard<'_, Option<Rx<M>>> {
        // Every update under the lock is one assignment: a panic cannot leave it torn.
        self.rx.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending half of a lane on this node.
pub(crate) struct LocalTx<M> {
    tx: OnceLock<Tx<M>>,
    handoff: Arc<Handoff<M>>,
}

/// The receiving half of a user lane (always local), owned by the actor's task.
pub(crate) struct UserRx<M> {
    rx: Option<Rx<M>>,
    handoff: Arc<Handoff<M>>,
}

pub(crate) fn user_lane<M>(config: MailboxConfig) -> (UserTx<M>, UserRx<M>) {
    let handoff = Arc::new(Handoff {
        config,
        closed: AtomicBool::new(false),
        waker: AtomicWaker::new(),
        rx: Mutex::new(None),
    });
    let tx = LocalTx {
        tx: OnceLock::new(),
        handoff: Arc::clone(&handoff),
    };
    (UserTx::Local(tx), UserRx { rx: None, handoff })
}

impl<M> LocalTx<M> {
    /// The channel, made now if this is the first send; `None` when the receiver closed
    /// before any was made.
    #[inline]
    fn tx(&self) -> Option<&Tx<M>> {
        match self.tx.get() {
            Some(tx) => Some(tx),
            None => self.make(),
        }
    }

    #[cold]
    #[inline(never)]
    fn make(&self) -> Option<&Tx<M>> {
        let mut slot = self.handoff.rx();
        if let Some(tx) = self.tx.get() {
            return Some(tx);
        }
        if self.handoff.closed.load(Ordering::Relaxed) {
            return None;
        }
        let (tx, rx) = match self.handoff.config {
            MailboxConfig::Bounded(cap) => {
                let (tx, rx) = mpsc::channel(cap.max(1));
                (Tx::Bounded(tx), Rx::Bounded(rx))
            }
            MailboxConfig::Unbounded => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Tx::Unbounded(tx), Rx::Unbounded(rx))
            }
        };
        *slot = Some(rx);
        // Under the lock: no other sender makes one meanwhile.
        let tx = self.tx.get_or_init(|| tx);
        drop(slot);
        // The task takes the receiver; the message this send is about to push then
        // wakes it through the channel, if it has not seen it already.
        self.handoff.waker.wake();
        Some(tx)
    }

    fn is_closed(&self) -> bool {
        match self.tx.get() {
            Some(Tx::Bounded(tx)) => tx.is_closed(),
            Some(Tx::Unbounded(tx)) => tx.is_closed(),
            None => self.handoff.closed.load(Ordering::Acquire),
        }
    }
}

impl<M> UserTx<M> {
    /// Waits for room on a bounded lane.
    #[inline]
    pub(crate) async fn send(&self, env: Envelope<M>) -> Result<(), Envelope<M>> {
        match self {
            UserTx::Local(local) => match local.tx() {
                Some(Tx::Bounded(tx)) => tx.send(env).await.map_err(|e| e.0),
                Some(Tx::Unbounded(tx)) => tx.send(env).map_err(|e| e.0),
                None => Err(env),
            },
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.send(env).await,
        }
    }

    /// Queues now, or hands the envelope back. The common case (a bounded local lane
    /// whose channel exists) is inlined into the send path; the others are not, so that
    /// it stays small.
    #[inline]
    pub(crate) fn try_send(&self, env: Envelope<M>) -> Result<(), TellError<Envelope<M>>> {
        if let UserTx::Local(local) = self
            && let Some(Tx::Bounded(tx)) = local.tx.get()
        {
            return tx.try_send(env).map_err(|e| match e {
                mpsc::error::TrySendError::Full(m) => TellError::Full(m),
                mpsc::error::TrySendError::Closed(m) => TellError::Dead(m),
            });
        }
        self.try_send_other(env)
    }

    #[cold]
    #[inline(never)]
    fn try_send_other(&self, env: Envelope<M>) -> Result<(), TellError<Envelope<M>>> {
        match self {
            UserTx::Local(local) => match local.tx() {
                Some(Tx::Bounded(tx)) => tx.try_send(env).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(m) => TellError::Full(m),
                    mpsc::error::TrySendError::Closed(m) => TellError::Dead(m),
                }),
                Some(Tx::Unbounded(tx)) => tx.send(env).map_err(|e| TellError::Dead(e.0)),
                None => Err(TellError::Dead(env)),
            },
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.try_send(env),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            UserTx::Local(local) => local.is_closed(),
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.is_closed(),
        }
    }
}

impl<M> Rx<M> {
    fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Envelope<M>>,
        limit: usize,
    ) -> Poll<usize> {
        match self {
            Rx::Bounded(rx) => rx.poll_recv_many(cx, buf, limit),
            Rx::Unbounded(rx) => rx.poll_recv_many(cx, buf, limit),
        }
    }

    fn close(&mut self) {
        match self {
            Rx::Bounded(rx) => rx.close(),
            Rx::Unbounded(rx) => rx.close(),
        }
    }

    fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Envelope<M>>> {
        match self {
            Rx::Bounded(rx) => rx.poll_recv(cx),
            Rx::Unbounded(rx) => rx.poll_recv(cx),
        }
    }

    fn try_recv(&mut self) -> Option<Envelope<M>> {
        match self {
            Rx::Bounded(rx) => rx.try_recv().ok(),
            Rx::Unbounded(rx) => rx.try_recv().ok(),
        }
    }
}

impl<M> UserRx<M> {
    /// The channel's receiver, once a send has made it.
    fn take(&mut self) -> Option<&mut Rx<M>> {
        if self.rx.is_none() {
            self.rx = self.handoff.rx().take();
        }
        self.rx.as_mut()
    }

    /// Until the first send: waits for it, or `true` when the lane is closed (and empty).
    #[cold]
    #[inline(never)]
    fn poll_made(&mut self, cx: &mut TaskContext<'_>) -> Poll<bool> {
        self.handoff.waker.register(cx.waker());
        if self.take().is_some() {
            return Poll::Ready(false);
        }
        if self.handoff.closed.load(Ordering::Acquire) {
            return Poll::Ready(true);
        }
        Poll::Pending
    }

    /// Takes up to `limit` messages into `buf`; `Ready(0)` means closed and empty.
    #[inline]
    pub(crate) fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Envelope<M>>,
        limit: usize,
    ) -> Poll<usize> {
        if let Some(rx) = &mut self.rx {
            return rx.poll_recv_many(cx, buf, limit);
        }
        match self.poll_made(cx) {
            Poll::Ready(false) => match &mut self.rx {
                Some(rx) => rx.poll_recv_many(cx, buf, limit),
                None => Poll::Ready(0),
            },
            Poll::Ready(true) => Poll::Ready(0),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Refuses new messages; queued ones can still be taken.
    pub(crate) fn close(&mut self) {
        {
            let mut slot = self.handoff.rx();
            if self.rx.is_none() {
                self.rx = slot.take();
            }
            // Under the lock: a first send either made the channel (closed below) or
            // will find the lane closed.
            if self.rx.is_none() {
                self.handoff.closed.store(true, Ordering::Release);
            }
        }
        if let Some(rx) = &mut self.rx {
            rx.close();
        }
    }

    /// The next message; `None` once the lane is closed and empty. After [`close`], this
    /// also waits for a send that was admitted before the close but had not yet landed,
    /// which `try_recv` would miss (it reports such a lane as empty).
    ///
    /// [`close`]: UserRx::close
    pub(crate) async fn recv(&mut self) -> Option<Envelope<M>> {
        std::future::poll_fn(|cx| {
            if self.rx.is_none() {
                match self.poll_made(cx) {
                    Poll::Ready(true) => return Poll::Ready(None),
                    Poll::Ready(false) => {}
                    Poll::Pending => return Poll::Pending,
                }
            }
            match &mut self.rx {
                Some(rx) => rx.poll_recv(cx),
                None => Poll::Ready(None),
            }
        })
        .await
    }

    pub(crate) fn try_recv(&mut self) -> Option<Envelope<M>> {
        self.take()?.try_recv()
    }
}

impl<M> Drop for UserRx<M> {
    /// Closes the lane: a channel whose receiver still waits in the handoff would
    /// otherwise take messages nobody will ever handle.
    fn drop(&mut self) {
        self.close();
    }
}
