//! The built-in bounded and unbounded kinds: a tokio channel, the floor the benchmarks
//! measure against. They keep a path of their own (no trait object, no lock: a tell is one
//! channel push) rather than going through [`Mailbox`](super::Mailbox), whose `pop` takes
//! `&self` and so would need a lock or a padded multi-consumer queue per actor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context as TaskContext, Poll};

use atomic_waker::AtomicWaker;
use tokio::sync::mpsc;

use super::{Letter, MailboxConfig, UserTx};
use crate::actor_ref::RefInner;
use crate::error::TellError;

/// A tokio channel, bounded or not.
enum Tx<M> {
    Bounded(mpsc::Sender<Letter<M>>),
    Unbounded(mpsc::UnboundedSender<Letter<M>>),
}

enum Rx<M> {
    Bounded(mpsc::Receiver<Letter<M>>),
    Unbounded(mpsc::UnboundedReceiver<Letter<M>>),
}

/// A lane's channel is made by its first send, not at spawn: most of its bytes (a
/// 512-byte channel and a first block of 32 letters) are then never spent on an actor
/// that is never sent anything. Until the actor's task takes the receiver, it waits here,
/// inside the actor's shared ref state (no allocation of its own).
struct Handoff<M> {
    /// The bound; 0 for none.
    capacity: u32,
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

/// The sending half of a channel lane, inside the actor's [`RefInner`].
pub(crate) struct ChannelTx<M> {
    tx: OnceLock<Tx<M>>,
    handoff: Handoff<M>,
}

/// The receiving half of a channel lane, owned by the actor's task; it reaches the
/// hand-off through the actor's ref state.
pub(crate) struct ChannelRx<M> {
    rx: Option<Rx<M>>,
    owner: Arc<RefInner<M>>,
}

/// The sending half of a new lane: its receiver is made from the ref state that holds it
/// ([`ChannelRx::new`]).
pub(crate) fn sender<M>(config: MailboxConfig) -> ChannelTx<M> {
    let capacity = match config {
        MailboxConfig::Bounded(n) => u32::try_from(n.max(1)).unwrap_or(u32::MAX),
        MailboxConfig::Unbounded => 0,
    };
    ChannelTx {
        tx: OnceLock::new(),
        handoff: Handoff {
            capacity,
            closed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            rx: Mutex::new(None),
        },
    }
}

fn full_or_dead<M>(e: mpsc::error::TrySendError<Letter<M>>) -> TellError<Letter<M>> {
    match e {
        mpsc::error::TrySendError::Full(m) => TellError::Full(m),
        mpsc::error::TrySendError::Closed(m) => TellError::Dead(m),
    }
}

impl<M> ChannelTx<M> {
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
        let (tx, rx) = match self.handoff.capacity {
            0 => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Tx::Unbounded(tx), Rx::Unbounded(rx))
            }
            cap => {
                let (tx, rx) = mpsc::channel(cap as usize);
                (Tx::Bounded(tx), Rx::Bounded(rx))
            }
        };
        *slot = Some(rx);
        // Under the lock: no other sender makes one meanwhile.
        let tx = self.tx.get_or_init(|| tx);
        drop(slot);
        // The task takes the receiver; the letter this send is about to push then
        // wakes it through the channel, if it has not seen it already.
        self.handoff.waker.wake();
        Some(tx)
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self.tx.get() {
            Some(Tx::Bounded(tx)) => tx.is_closed(),
            Some(Tx::Unbounded(tx)) => tx.is_closed(),
            None => self.handoff.closed.load(Ordering::Acquire),
        }
    }

    /// Waits for room on a bounded lane.
    pub(crate) async fn send(&self, letter: Letter<M>) -> Result<(), Letter<M>> {
        match self.tx() {
            Some(Tx::Bounded(tx)) => tx.send(letter).await.map_err(|e| e.0),
            Some(Tx::Unbounded(tx)) => tx.send(letter).map_err(|e| e.0),
            None => Err(letter),
        }
    }

    /// The common case (a channel that exists) is inlined into the send path; the first
    /// send, which makes it, is not.
    #[inline]
    pub(crate) fn try_send(&self, letter: Letter<M>) -> Result<(), TellError<Letter<M>>> {
        match self.tx.get() {
            Some(Tx::Bounded(tx)) => tx.try_send(letter).map_err(full_or_dead),
            Some(Tx::Unbounded(tx)) => tx.send(letter).map_err(|e| TellError::Dead(e.0)),
            None => self.try_send_other(letter),
        }
    }

    #[cold]
    #[inline(never)]
    fn try_send_other(&self, letter: Letter<M>) -> Result<(), TellError<Letter<M>>> {
        match self.tx() {
            Some(Tx::Bounded(tx)) => tx.try_send(letter).map_err(full_or_dead),
            Some(Tx::Unbounded(tx)) => tx.send(letter).map_err(|e| TellError::Dead(e.0)),
            None => Err(TellError::Dead(letter)),
        }
    }
}

impl<M> Rx<M> {
    fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Letter<M>>,
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

    fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Letter<M>>> {
        match self {
            Rx::Bounded(rx) => rx.poll_recv(cx),
            Rx::Unbounded(rx) => rx.poll_recv(cx),
        }
    }
}

impl<M> ChannelRx<M> {
    /// The receiver of the channel lane held by `owner` (whose user lane is a
    /// [`ChannelTx`]; any other leaves this receiver closed from the start).
    pub(crate) fn new(owner: Arc<RefInner<M>>) -> Self {
        ChannelRx { rx: None, owner }
    }

    fn handoff(&self) -> Option<&Handoff<M>> {
        match &self.owner.user {
            UserTx::Channel(tx) => Some(&tx.handoff),
            _ => None,
        }
    }

    /// The channel's receiver, once a send has made it.
    fn take(&mut self) -> Option<&mut Rx<M>> {
        if self.rx.is_none() {
            self.rx = self.handoff().and_then(|h| h.rx().take());
        }
        self.rx.as_mut()
    }

    /// Until the first send: waits for it, or `true` when the lane is closed (and empty).
    #[cold]
    #[inline(never)]
    fn poll_made(&mut self, cx: &mut TaskContext<'_>) -> Poll<bool> {
        let Some(handoff) = self.handoff() else {
            return Poll::Ready(true);
        };
        handoff.waker.register(cx.waker());
        if self.take().is_some() {
            return Poll::Ready(false);
        }
        match self.handoff() {
            Some(handoff) if !handoff.closed.load(Ordering::Acquire) => Poll::Pending,
            _ => Poll::Ready(true),
        }
    }

    /// Takes up to `limit` letters into `buf`; `Ready(0)` means closed and empty.
    #[inline]
    pub(crate) fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Letter<M>>,
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
        if let UserTx::Channel(tx) = &self.owner.user {
            let handoff = &tx.handoff;
            let mut slot = handoff.rx();
            if self.rx.is_none() {
                self.rx = slot.take();
            }
            // Under the lock: a first send either made the channel (closed below) or
            // will find the lane closed.
            if self.rx.is_none() {
                handoff.closed.store(true, Ordering::Release);
            }
        }
        if let Some(rx) = &mut self.rx {
            rx.close();
        }
    }

    /// The next letter; `Ready(None)` once the lane is closed and empty. After
    /// [`close`](ChannelRx::close) this also waits for a send that was admitted before
    /// the close but had not yet landed.
    pub(crate) fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Letter<M>>> {
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
    }
}
