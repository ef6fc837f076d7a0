//! An actor's system lane: stop, supervision, watch and termination notices.
//!
//! System messages are rare, and most actors never get one before they stop, so the lane
//! allocates nothing until its first message (a tokio unbounded channel allocated a
//! 1.8 KB block and a 512-byte channel per actor up front). Emptiness is one atomic load:
//! the serve loop looks at this lane before every user message.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use std::task::Waker;

use tokio::sync::mpsc::error::SendError;

use crate::system::SystemMsg;

struct Lane {
    /// Messages queued; read without the lock.
    len: AtomicUsize,
    /// No more messages are taken. Set under the lock.
    closed: AtomicBool,
    queue: Mutex<Queue>,
}

struct Queue {
    msgs: VecDeque<SystemMsg>,
    /// The actor's task, woken by a send.
    waker: Option<Waker>,
}

impl Lane {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Every update under the lock is one push or pop: a panic cannot leave it torn.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending half; cheap to clone.
#[derive(Clone)]
pub(crate) struct SysSender(Arc<Lane>);

/// The receiving half, owned by the actor's task. Dropping it closes the lane.
pub(crate) struct SysReceiver {
    lane: Arc<Lane>,
    /// The waker last stored in the lane: a task polls with the same one every time, so
    /// the lock is taken once, not at every wait (an `AtomicWaker` cloned the waker at
    /// every registration: 17 % of a ping-pong's time).
    registered: Option<Waker>,
}

/// A new, empty lane.
pub(crate) fn sys_lane() -> (SysSender, SysReceiver) {
    let lane = Arc::new(Lane {
        len: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
        queue: Mutex::new(Queue {
            msgs: VecDeque::new(),
            waker: None,
        }),
    });
    let rx = SysReceiver {
        lane: Arc::clone(&lane),
        registered: None,
    };
    (SysSender(lane), rx)
}

impl SysSender {
    /// Queues `msg`; hands it back when the lane is closed (the actor is stopping or gone).
    pub(crate) fn send(&self, msg: SystemMsg) -> Result<(), SendError<SystemMsg>> {
        let waker = {
            let mut queue = self.0.queue();
            if self.0.closed.load(Ordering::Relaxed) {
                return Err(SendError(msg));
            }
            queue.msgs.push_back(msg);
            self.0.len.fetch_add(1, Ordering::Release);
            queue.waker.clone()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// `true` once the lane takes no more messages.
    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::Acquire)
    }
}

impl SysReceiver {
    /// `true` when no message is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.lane.len.load(Ordering::Acquire) == 0
    }

    /// The next message, if one is queued.
    #[inline]
    pub(crate) fn try_recv(&mut self) -> Option<SystemMsg> {
        if self.is_empty() {
            return None;
        }
        let mut queue = self.lane.queue();
        let msg = queue.msgs.pop_front()?;
        self.lane.len.fetch_sub(1, Ordering::Release);
        Some(msg)
    }

    /// The next message; `Ready(None)` once the lane is closed and empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<SystemMsg>> {
        if let Some(msg) = self.try_recv() {
            return Poll::Ready(Some(msg));
        }
        self.register(cx.waker());
        // A message sent between the first look and the registration woke nobody.
        if let Some(msg) = self.try_recv() {
            return Poll::Ready(Some(msg));
        }
        if self.lane.closed.load(Ordering::Acquire) && self.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    /// Makes sends wake `waker`; free when it is the one stored last time.
    #[inline]
    fn register(&mut self, waker: &Waker) {
        if self.registered.as_ref().is_some_and(|w| w.will_wake(waker)) {
            return;
        }
        self.lane.queue().waker = Some(waker.clone());
        self.registered = Some(waker.clone());
    }

    /// Ready once a message is queued (it stays queued).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.is_empty() {
            return Poll::Ready(());
        }
        self.register(cx.waker());
        if self.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// The next message; `None` once the lane is closed and empty.
    pub(crate) async fn recv(&mut self) -> Option<SystemMsg> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Takes no more messages; those queued can still be received.
    pub(crate) fn close(&mut self) {
        let _queue = self.lane.queue();
        self.lane.closed.store(true, Ordering::Release);
    }
}

impl Drop for SysReceiver {
    fn drop(&mut self) {
        self.close();
        // What was queued goes now, not when the last sender goes.
        let rest = std::mem::take(&mut self.lane.queue().msgs);
        self.lane.len.store(0, Ordering::Release);
        drop(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_arrive_in_order_and_wake_the_receiver() {
        let (tx, mut rx) = sys_lane();
        assert!(rx.is_empty());
        assert!(rx.try_recv().is_none());
        let waiter = tokio::spawn(async move {
            let first = rx.recv().await;
            let second = rx.recv().await;
            (first, second, rx)
        });
        tokio::task::yield_now().await;
        tx.send(SystemMsg::Poke).unwrap();
        tx.send(SystemMsg::Stop).unwrap();
        let (first, second, mut rx) = waiter.await.unwrap();
        assert!(matches!(first, Some(SystemMsg::Poke)));
        assert!(matches!(second, Some(SystemMsg::Stop)));
        // Closed: what was queued still arrives, then `None`; sends are refused.
        tx.send(SystemMsg::Poke).unwrap();
        rx.close();
        assert!(tx.is_closed());
        assert!(tx.send(SystemMsg::Stop).is_err());
        assert!(matches!(rx.recv().await, Some(SystemMsg::Poke)));
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn a_dropped_receiver_refuses_sends() {
        let (tx, rx) = sys_lane();
        tx.send(SystemMsg::Poke).unwrap();
        drop(rx);
        assert!(matches!(
            tx.send(SystemMsg::Stop),
            Err(SendError(SystemMsg::Stop))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_senders_on_other_threads_lose_nothing() {
        let (tx, mut rx) = sys_lane();
        let senders: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for _ in 0..10_000 {
                        tx.send(SystemMsg::Poke).unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let mut got = 0;
        while got < 40_000 {
            let next = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv());
            assert!(
                matches!(next.await, Ok(Some(SystemMsg::Poke))),
                "after {got}"
            );
            got += 1;
        }
        for s in senders {
            s.await.unwrap();
        }
        assert!(rx.is_empty());
    }
}
