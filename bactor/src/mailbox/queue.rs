//! A lane around any [`Mailbox`]: what the runtime adds to a queue. It wakes the actor
//! after a push, makes a `tell` wait (and a `try_tell` fail) while the queue says it is
//! full, publishes the messages a queue drops as dead letters, turns a graceful stop into
//! the last letter the actor takes, and refuses pushes once the actor stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::task::{Context as TaskContext, Poll};

use atomic_waker::AtomicWaker;
use tokio::sync::Notify;

use super::{Envelope, Letter, Mailbox, Priority, Push};
use crate::Pid;
use crate::error::TellError;
use crate::events::EventStream;

/// No push is admitted any more.
const CLOSED: usize = 1;
/// A graceful stop waits to be taken once the queue is empty.
const STOP: usize = 2;
/// One push in flight (admitted, not yet landed): counted above the flags.
const PUSHING: usize = 4;

/// Where a queue's dropped messages are reported.
pub(crate) struct DeadLetters<M> {
    pub(crate) events: Arc<EventStream>,
    pub(crate) pid: Pid,
    pub(crate) name_of: fn(&M) -> &'static str,
}

/// The runtime's side of a [`Mailbox`] lane, shared by the senders and the actor's task.
pub(crate) struct QueueLane<M> {
    queue: Box<dyn Mailbox<M>>,
    priority_of: fn(&M) -> Priority,
    dead: DeadLetters<M>,
    /// `CLOSED | STOP` and the pushes in flight, in units of `PUSHING`.
    state: AtomicUsize,
    /// The actor's task, when it waits for a message.
    waker: AtomicWaker,
    /// Senders that found the queue full since the last wake-up, and where they wait.
    waiting: AtomicUsize,
    room: Notify,
}

impl<M: 'static> QueueLane<M> {
    /// Letters queued now.
    pub(crate) fn queued(&self) -> u64 {
        self.queue.len() as u64
    }

    pub(crate) fn new(
        queue: Box<dyn Mailbox<M>>,
        priority_of: fn(&M) -> Priority,
        dead: DeadLetters<M>,
    ) -> Self {
        QueueLane {
            queue,
            priority_of,
            dead,
            state: AtomicUsize::new(0),
            waker: AtomicWaker::new(),
            waiting: AtomicUsize::new(0),
            room: Notify::new(),
        }
    }

    /// The envelope of a message letter; `None` for a graceful stop, which is not queued.
    fn envelope(&self, letter: Letter<M>, priority: Option<Priority>) -> Option<Envelope<M>> {
        let (message, headers) = match letter {
            Letter::Msg(m) => (m, crate::Headers::new()),
            Letter::Headed(b) => *b,
            Letter::Stop => return None,
        };
        let priority = priority.unwrap_or_else(|| (self.priority_of)(&message));
        Some(Envelope {
            message,
            headers,
            priority,
        })
    }

    /// Offers a letter to the queue once; a graceful stop closes the lane and waits for
    /// the queue to empty. `Full` hands it back.
    pub(crate) fn try_send(
        &self,
        letter: Letter<M>,
        priority: Option<Priority>,
    ) -> Result<(), TellError<Letter<M>>> {
        let Some(env) = self.envelope(letter, priority) else {
            return match self.stop() {
                true => Ok(()),
                false => Err(TellError::Dead(Letter::Stop)),
            };
        };
        self.offer(env).map_err(|e| match e {
            TellError::Full(env) => TellError::Full(env.into_letter()),
            TellError::Dead(env) => TellError::Dead(env.into_letter()),
            TellError::Refused(env, r) => TellError::Refused(env.into_letter(), r),
        })
    }

    fn offer(&self, env: Envelope<M>) -> Result<(), TellError<Envelope<M>>> {
        let before = self.state.fetch_add(PUSHING, Ordering::Acquire);
        let landed = Landed(self);
        if before & CLOSED != 0 {
            drop(landed);
            return Err(TellError::Dead(env));
        }
        // Uncounted when it returns, and when it panics too: the actor's last drain waits
        // for the pushes in flight, and must not wait for one that unwound.
        let pushed = self.queue.push(env);
        drop(landed);
        match pushed {
            Push::Queued => {
                self.waker.wake();
                Ok(())
            }
            Push::Dropped(dropped) => {
                self.waker.wake();
                self.dead_letter(&dropped);
                Ok(())
            }
            Push::Full(env) => Err(TellError::Full(env)),
        }
    }

    /// Offers a letter, waiting for room while the queue is full; hands it back when the
    /// actor stops first.
    pub(crate) async fn send(
        &self,
        letter: Letter<M>,
        priority: Option<Priority>,
    ) -> Result<(), Letter<M>> {
        let Some(mut env) = self.envelope(letter, priority) else {
            return if self.stop() {
                Ok(())
            } else {
                Err(Letter::Stop)
            };
        };
        loop {
            // Counted before the offer, and the notification taken before it too: a pop
            // after the offer failed either sees this sender waiting, or happened before
            // the offer, which then found the room.
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let room = self.room.notified();
            match self.offer(env) {
                Ok(()) => return Ok(()),
                Err(TellError::Full(back)) => {
                    env = back;
                    room.await;
                }
                Err(TellError::Dead(back) | TellError::Refused(back, _)) => {
                    return Err(back.into_letter());
                }
            }
        }
    }

    /// Closes the lane behind a graceful stop; `false` when it was closed already.
    fn stop(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & CLOSED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state | CLOSED | STOP,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        self.room.notify_waiters();
        self.waker.wake();
        true
    }

    fn pop(&self) -> Option<Letter<M>> {
        let popped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.queue.pop()));
        let Ok(env) = popped else {
            // A queue that panics is in no state to be trusted with more messages: the
            // lane closes, and the actor stops as if its mailbox had.
            self.close();
            return None;
        };
        let env = env?;
        // Pairs with the waiting senders' count: either they see the room this pop made,
        // or this sees them.
        // Once per wave of waiting senders, not once per pop: a woken sender that finds
        // the queue full again counts itself again. (A send dropped while it waited
        // leaves its count behind: one wake-up for nobody, later.)
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) > 0 && self.waiting.swap(0, Ordering::SeqCst) > 0 {
            self.room.notify_waiters();
        }
        Some(env.into_letter())
    }

    /// The next letter: one message (so that the queue keeps its order until the moment
    /// a message is handled), the graceful stop once the queue is empty, or `None` when
    /// the lane is closed and empty and no push is still landing.
    pub(crate) fn poll_recv(&self, cx: &mut TaskContext<'_>) -> Poll<Option<Letter<M>>> {
        if let Some(next) = self.try_next() {
            return Poll::Ready(next);
        }
        self.waker.register(cx.waker());
        match self.try_next() {
            Some(next) => Poll::Ready(next),
            None => Poll::Pending,
        }
    }

    /// `Some(next)` when there is an answer without waiting.
    pub(crate) fn try_next(&self) -> Option<Option<Letter<M>>> {
        if let Some(letter) = self.pop() {
            return Some(Some(letter));
        }
        let state = self.state.load(Ordering::Acquire);
        if state < PUSHING {
            if state & STOP != 0 {
                self.state.fetch_and(!STOP, Ordering::AcqRel);
                return Some(Some(Letter::Stop));
            }
            if state & CLOSED != 0 {
                return Some(None);
            }
        }
        None
    }

    #[cold]
    fn dead_letter(&self, env: &Envelope<M>) {
        let name = (self.dead.name_of)(&env.message);
        self.dead.events.dead_letter(self.dead.pid, name);
    }
}

impl<M> QueueLane<M> {
    /// Where senders wait for room (shared, as the channel's: see [`UserTx::notify`]).
    ///
    /// [`UserTx::notify`]: super::UserTx::notify
    pub(crate) fn room(&self) -> &Notify {
        &self.room
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Refuses new messages; queued ones can still be taken. Senders waiting for room
    /// hear it at once.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.room.notify_waiters();
    }
}

/// A push in flight: uncounted on drop (the actor may be waiting for it to land).
struct Landed<'a, M>(&'a QueueLane<M>);

impl<M> Drop for Landed<'_, M> {
    fn drop(&mut self) {
        if self.0.state.fetch_sub(PUSHING, Ordering::AcqRel) & CLOSED != 0 {
            self.0.waker.wake();
        }
    }
}

impl<M> Envelope<M> {
    fn into_letter(self) -> Letter<M> {
        if self.headers.is_empty() {
            Letter::Msg(self.message)
        } else {
            Letter::Headed(Box::new((self.message, self.headers)))
        }
    }
}
