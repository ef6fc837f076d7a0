//! Typed requests: what the generated ref methods return.
//!
//! `counter.add(5)` builds a [`Request`] holding the message; nothing is sent yet. Then:
//!
//! - `.await` asks: sends the message with a reply slot and resolves to the handler's
//!   return value (`Result<T, AskError>`; a handler returning `Result<T, E>` resolves to
//!   `Result<T, AskError<E>>`, its `Err(e)` arriving as [`AskError::Handler`]);
//! - `.tell().await` sends without a reply slot, waiting only for mailbox room;
//! - `.try_tell()` sends now or hands the message back;
//! - `.timeout(d).await` asks, giving up after `d` with [`AskError::Timeout`].
//!
//! An ask costs one channel push, one pop and its reply slot (one small allocation). No
//! other allocation happens unless the mailbox is full and the ask has to wait for room.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::actor::Actor;
use crate::actor_ref::{ActorRef, NotNow, PushWhenRoom, Reply, ReplyTo};
use crate::error::{AskError, TellError};
use crate::mailbox::Priority;

/// How the reply of an ask is handed to the asker.
///
/// [`Plain`] for handlers returning `T`, [`Fallible`] for handlers returning `Result<T, E>`.
/// `#[actor]` picks one from the handler's return type.
pub trait ReplyShape<R> {
    /// What awaiting the request yields.
    type Output;
    /// Wraps a reply.
    fn ok(reply: R) -> Self::Output;
    /// Wraps a delivery failure.
    fn err(error: AskError) -> Self::Output;
}

/// Reply shape of handlers returning a plain `T`: the ask yields `Result<T, AskError>`.
#[derive(Debug)]
pub enum Plain {}

/// Reply shape of handlers returning `Result<T, E>`: the ask yields
/// `Result<T, AskError<E>>`.
#[derive(Debug)]
pub enum Fallible {}

impl<R> ReplyShape<R> for Plain {
    type Output = Result<R, AskError>;
    fn ok(reply: R) -> Self::Output {
        Ok(reply)
    }
    fn err(error: AskError) -> Self::Output {
        Err(error)
    }
}

impl<T, E> ReplyShape<Result<T, E>> for Fallible {
    type Output = Result<T, AskError<E>>;
    fn ok(reply: Result<T, E>) -> Self::Output {
        reply.map_err(AskError::Handler)
    }
    fn err(error: AskError) -> Self::Output {
        Err(error.widen())
    }
}

/// A message for an actor, ready to be asked, told or timed. Returned by the methods of
/// generated `{Name}Ref` types.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
/// use std::time::Duration;
///
/// #[actor]
/// #[derive(Default)]
/// struct Counter {
///     count: u64,
/// }
///
/// #[actor]
/// impl Counter {
///     #[handler]
///     fn add(&mut self, by: u64) -> u64 {
///         self.count += by;
///         self.count
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new();
/// let counter = system.spawn(Counter::default).await?;
/// assert_eq!(counter.add(5).await?, 5);                 // ask
/// counter.add(1).tell().await?;                         // tell, waits for room
/// counter.add(1).try_tell()?;                           // tell now or get the message back
/// let n = counter.add(0).timeout(Duration::from_secs(1)).await?;
/// assert_eq!(n, 7);
/// # system.shutdown().await;
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is awaited, told or tried"]
pub struct Request<'a, A: Actor, R, S = Plain> {
    target: &'a ActorRef<A>,
    msg: A::Msg,
    attach: fn(&mut A::Msg, ReplyTo<R>),
    priority: Option<Priority>,
    shape: PhantomData<fn() -> S>,
}

impl<'a, A: Actor, R, S> Request<'a, A, R, S> {
    /// Builds a request. `attach` puts the reply slot into the message; generated code
    /// passes a function that fills the variant's reply field.
    #[inline]
    pub fn new(target: &'a ActorRef<A>, msg: A::Msg, attach: fn(&mut A::Msg, ReplyTo<R>)) -> Self {
        Request {
            target,
            msg,
            attach,
            priority: None,
            shape: PhantomData,
        }
    }

    /// Sends the request at this [`Priority`] instead of its handler's. Only mailboxes
    /// that order by priority heed it: the priority kind, which actors get when one of
    /// their handlers declares `#[handler(priority = ..)]`, and custom ones that read
    /// it; for other actors this changes nothing.
    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = Some(priority);
        self
    }

    /// [`priority`](Request::priority)`(Priority::High)`: served before the actor's other
    /// user messages (after system messages).
    pub fn high_priority(self) -> Self {
        self.priority(Priority::High)
    }

    /// Sends the message without a reply slot, waiting for room in a full bounded mailbox.
    /// Fails only when the actor is not running, handing the message back.
    pub fn tell(self) -> Tell<'a, A> {
        Tell {
            state: TellState::Start(self.target, self.msg),
            priority: self.priority,
        }
    }

    /// Sends the message now without a reply slot, or hands it back in
    /// [`TellError::Full`] / [`TellError::Dead`].
    pub fn try_tell(self) -> Result<(), TellError<A::Msg>> {
        self.target
            .inner
            .try_push(self.msg, self.priority, &self.target.headers)
    }

    /// Asks, giving up after `timeout` with [`AskError::Timeout`]. The time covers waiting
    /// for mailbox room and for the reply. A message already delivered is still handled;
    /// only its reply is dropped.
    pub fn timeout(self, timeout: Duration) -> Timed<'a, A, R, S> {
        Timed {
            request: self,
            timeout,
        }
    }

    /// The message itself, without a reply slot: for `ctx.send_after` and friends.
    pub fn into_message(self) -> A::Msg {
        self.msg
    }
}

impl<A: Actor, R, S> fmt::Debug for Request<'_, A, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("target", &self.target.pid())
            .field("message", &A::message_name(&self.msg))
            .finish()
    }
}

impl<'a, A, R, S> IntoFuture for Request<'a, A, R, S>
where
    A: Actor,
    R: Send + 'static,
    S: ReplyShape<R>,
{
    type Output = S::Output;
    type IntoFuture = Ask<'a, A, R, S>;

    fn into_future(self) -> Self::IntoFuture {
        Ask {
            state: AskState::Start(self.target, self.msg, self.attach),
            priority: self.priority,
            shape: PhantomData,
            #[cfg(feature = "metrics")]
            asked: None,
        }
    }
}

enum AskState<'a, A: Actor, R> {
    Start(&'a ActorRef<A>, A::Msg, fn(&mut A::Msg, ReplyTo<R>)),
    /// The mailbox was full: waiting for room (the only path that allocates).
    Sending(PushWhenRoom<'a, A::Msg>, oneshot::Receiver<Reply<R>>),
    Waiting(oneshot::Receiver<Reply<R>>),
    Done,
}

/// The future of an ask. Created by awaiting a [`Request`].
#[must_use = "futures do nothing unless polled"]
pub struct Ask<'a, A: Actor, R, S> {
    state: AskState<'a, A, R>,
    priority: Option<Priority>,
    shape: PhantomData<fn() -> S>,
    /// When it was sent, for `bactor_ask_seconds` (feature `metrics`).
    #[cfg(feature = "metrics")]
    asked: Option<(&'a crate::metrics::TypeMetrics, std::time::Instant)>,
}

// No field is ever pinned in place: the send future is boxed and the receiver is `Unpin`.
impl<A: Actor, R, S> Unpin for Ask<'_, A, R, S> {}

impl<A: Actor, R, S> fmt::Debug for Ask<'_, A, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            AskState::Start(..) => "start",
            AskState::Sending(..) => "waiting for mailbox room",
            AskState::Waiting(_) => "waiting for reply",
            AskState::Done => "done",
        };
        f.debug_struct("Ask").field("state", &state).finish()
    }
}

impl<'a, A, R, S> Future for Ask<'a, A, R, S>
where
    A: Actor,
    R: Send + 'static,
    S: ReplyShape<R>,
{
    type Output = S::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, AskState::Done) {
                AskState::Start(target, mut msg, attach) => {
                    #[cfg(feature = "metrics")]
                    {
                        this.asked = target
                            .inner
                            .metrics
                            .as_deref()
                            .and_then(|m| Some((m, m.start()?)));
                    }
                    let (tx, rx) = oneshot::channel();
                    attach(&mut msg, ReplyTo::new(tx));
                    match target
                        .inner
                        .try_push_or_keep(msg, this.priority, &target.headers)
                    {
                        Ok(()) => this.state = AskState::Waiting(rx),
                        Err(NotNow::Full(letter)) => {
                            let push = target.inner.letter_when_room(letter, this.priority);
                            this.state = AskState::Sending(push, rx);
                        }
                        // The send path published the dead letter; dropping the message
                        // drops its reply slot.
                        Err(NotNow::Failed(TellError::Dead(_) | TellError::Full(_))) => {
                            return Poll::Ready(S::err(AskError::Dead));
                        }
                        // Refused by send middleware (which published the dead letter).
                        Err(NotNow::Failed(TellError::Refused(_, rejection))) => {
                            return Poll::Ready(S::err(AskError::Rejected(rejection)));
                        }
                    }
                }
                AskState::Sending(mut push, rx) => match push.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = AskState::Sending(push, rx);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(())) => this.state = AskState::Waiting(rx),
                    Poll::Ready(Err(_)) => return Poll::Ready(S::err(AskError::Dead)),
                },
                AskState::Waiting(mut rx) => match Pin::new(&mut rx).poll(cx) {
                    Poll::Pending => {
                        this.state = AskState::Waiting(rx);
                        return Poll::Pending;
                    }
                    Poll::Ready(r) => {
                        #[cfg(feature = "metrics")]
                        if let Some((m, at)) = this.asked.take() {
                            m.ask_time.record(at.elapsed());
                        }
                        return Poll::Ready(match Reply::into_result(r) {
                            Ok(reply) => S::ok(reply),
                            Err(e) => S::err(e),
                        });
                    }
                },
                // Polled again after it finished: answer as if the reply were lost rather
                // than panic.
                AskState::Done => return Poll::Ready(S::err(AskError::NoReply)),
            }
        }
    }
}

/// The future of a tell: [`ActorRef::tell`] and [`Request::tell`].
///
/// It pushes the message on its first poll; only when a bounded mailbox is full does it
/// wait (the one path that allocates), handing the message back if the actor stops.
#[must_use = "futures do nothing unless polled"]
pub struct Tell<'a, A: Actor> {
    pub(crate) state: TellState<'a, A>,
    pub(crate) priority: Option<Priority>,
}

pub(crate) enum TellState<'a, A: Actor> {
    Start(&'a ActorRef<A>, A::Msg),
    Sending(PushWhenRoom<'a, A::Msg>),
    Done,
}

// No field is ever pinned in place: the send future is boxed.
impl<A: Actor> Unpin for Tell<'_, A> {}

impl<A: Actor> fmt::Debug for Tell<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            TellState::Start(..) => "start",
            TellState::Sending(..) => "waiting for mailbox room",
            TellState::Done => "done",
        };
        f.debug_struct("Tell").field("state", &state).finish()
    }
}

impl<A: Actor> Future for Tell<'_, A> {
    type Output = Result<(), TellError<A::Msg>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, TellState::Done) {
                TellState::Start(target, msg) => {
                    match target
                        .inner
                        .try_push_or_keep(msg, this.priority, &target.headers)
                    {
                        Ok(()) => return Poll::Ready(Ok(())),
                        Err(NotNow::Full(letter)) => {
                            this.state = TellState::Sending(
                                target.inner.letter_when_room(letter, this.priority),
                            );
                        }
                        Err(NotNow::Failed(failed)) => return Poll::Ready(Err(failed)),
                    }
                }
                TellState::Sending(mut push) => match push.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = TellState::Sending(push);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                    Poll::Ready(Err(msg)) => return Poll::Ready(Err(TellError::Dead(msg))),
                },
                // Polled again after it finished: nothing left to send.
                TellState::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// A [`Request`] with a timeout. Created by [`Request::timeout`]; await it to ask.
#[must_use = "a request does nothing until it is awaited"]
pub struct Timed<'a, A: Actor, R, S> {
    request: Request<'a, A, R, S>,
    timeout: Duration,
}

impl<A: Actor, R, S> fmt::Debug for Timed<'_, A, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timed")
            .field("request", &self.request)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<'a, A, R, S> IntoFuture for Timed<'a, A, R, S>
where
    A: Actor,
    R: Send + 'static,
    S: ReplyShape<R>,
{
    type Output = S::Output;
    type IntoFuture = TimedAsk<'a, A, R, S>;

    fn into_future(self) -> Self::IntoFuture {
        TimedAsk {
            ask: self.request.into_future(),
            sleep: tokio::time::sleep(self.timeout),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of an ask with a timeout. Created by awaiting a [`Timed`] request.
    #[must_use = "futures do nothing unless polled"]
    pub struct TimedAsk<'a, A: Actor, R, S> {
        ask: Ask<'a, A, R, S>,
        #[pin]
        sleep: Sleep,
    }
}

impl<A: Actor, R, S> fmt::Debug for TimedAsk<'_, A, R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedAsk")
            .field("ask", &self.ask)
            .finish_non_exhaustive()
    }
}

impl<'a, A, R, S> Future for TimedAsk<'a, A, R, S>
where
    A: Actor,
    R: Send + 'static,
    S: ReplyShape<R>,
{
    type Output = S::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = Pin::new(this.ask).poll(cx) {
            return Poll::Ready(out);
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(S::err(AskError::Timeout)),
            Poll::Pending => Poll::Pending,
        }
    }
}
