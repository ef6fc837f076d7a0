//! Actor references.
//!
//! An [`ActorRef<A>`] is a cheap handle to a running actor of type `A`: cloning it is one
//! reference-count increment, and a `tell` through it is one channel push. `#[actor]` wraps
//! it in a generated `{Name}Ref` newtype that adds one method per handler and derefs to it.
//!
//! # What a send costs
//!
//! A tell to an actor on this node with the default mailbox (or an unbounded one)
//! allocates nothing and takes no lock: the message moves by value into a slot of the
//! actor's channel, claimed with one compare-and-swap that also checks the bound, and the
//! actor is woken only if it sleeps (one block of 32 slots is allocated per 32 messages,
//! and recycled). An ask adds its reply slot (one `oneshot`). Measured in `benches/`
//! (`--bin peers`, 2-vCPU AMD EPYC VM, 2026-12-06, one runtime thread): 1,000,000 tells
//! from one sender, handled, in 37 ns each (27 M/s; raw tokio's unbounded channel 47 ns);
//! an ask's round trip 444–450 ns (raw tokio with a `oneshot`: 458–468 ns). Messages
//! with [`Headers`](crate::Headers) are boxed with them; messages without pay nothing
//! for headers. A [`Mailbox`](crate::Mailbox) of your own (or the priority one) costs
//! what its `push` and `pop` cost: about 85 ns per tell for a `Mutex<VecDeque>` on one
//! thread.

use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;

use crate::Pid;
use crate::actor::Actor;
use crate::error::{AskError, TellError};
use crate::events::EventStream;
use crate::mailbox::{Letter, Priority, UserTx};
use crate::request::{Tell, TellState};
use crate::system::{SysTx, SystemMsg};

/// What every ref of one actor shares.
///
/// In this order (`repr(C)`): what a send reads first, then the user lane (whose channel
/// keeps the senders' fields at its start and the receiver's at its end, see
/// `mailbox::chan`), then what neither touches per message, next to the receiver's part.
#[repr(C)]
pub(crate) struct RefInner<M> {
    /// Send middleware of the actor: run before every push; `None` when it has none.
    pub(crate) send_layers: crate::middleware::SendLayers,
    pub(crate) user: UserTx<M>,
    pub(crate) pid: Pid,
    pub(crate) sys: SysTx,
    pub(crate) events: Arc<EventStream>,
    pub(crate) name_of: fn(&M) -> &'static str,
    /// `std::any::type_name` of the actor, as a function: a word, not two.
    pub(crate) type_name: fn() -> &'static str,
    /// What introspection reports ([`ActorSystem::actors`](crate::ActorSystem::actors)),
    /// written by the actor's own task only: messages taken (a plain load and store per
    /// message, no read-modify-write; wrapping), failures and restarts (saturating). With
    /// `terminated`, in the one word the flag alone took: a word more (a `u64`) made
    /// every idle actor 65 bytes bigger in resident memory, past 1 KiB. The last failure
    /// itself is kept in the registry.
    pub(crate) handled: std::sync::atomic::AtomicU32,
    pub(crate) failures: std::sync::atomic::AtomicU16,
    pub(crate) restarts: std::sync::atomic::AtomicU8,
    /// Waited for through the user lane's notifier ([`UserTx::notify`]).
    terminated: AtomicBool,
    /// The metrics of the actor's type (feature `metrics`; `None` for remote refs and
    /// systems whose metrics are off).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<Arc<crate::metrics::TypeMetrics>>,
}

impl<M> RefInner<M> {
    pub(crate) fn new(
        pid: Pid,
        user: UserTx<M>,
        sys: SysTx,
        events: Arc<EventStream>,
        name_of: fn(&M) -> &'static str,
        type_name: fn() -> &'static str,
    ) -> Self {
        RefInner {
            pid,
            user,
            sys,
            events,
            name_of,
            type_name,
            send_layers: None,
            handled: std::sync::atomic::AtomicU32::new(0),
            failures: std::sync::atomic::AtomicU16::new(0),
            restarts: std::sync::atomic::AtomicU8::new(0),
            terminated: AtomicBool::new(false),
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }

    /// The one send path of user messages: every tell, try_tell and ask, typed or not,
    /// pushes through here (graceful stop has its own, [`push_graceful_stop`]). Queues
    /// `msg` on its lane now, or hands it back: [`TellError::Full`] when a bounded lane has
    /// no room, [`TellError::Dead`] (after publishing the dead letter) when the actor is
    /// not running. No allocation, no lock.
    ///
    /// [`push_graceful_stop`]: RefInner::push_graceful_stop
    #[inline]
    pub(crate) fn try_push(
        &self,
        msg: M,
        priority: Option<Priority>,
        headers: &crate::Headers,
    ) -> Result<(), TellError<M>>
    where
        M: Send + 'static,
    {
        match self.try_push_or_keep(msg, priority, headers) {
            Ok(()) => Ok(()),
            Err(not_now) => Err(not_now.into_error()),
        }
    }

    /// [`try_push`](RefInner::try_push) for a send that waits when the lane is full: then
    /// it hands back the letter, which has been through the send layers, to wait with
    /// ([`letter_when_room`](RefInner::letter_when_room)). The layers run once per send,
    /// and the headers they added stay with it.
    #[inline]
    pub(crate) fn try_push_or_keep(
        &self,
        msg: M,
        priority: Option<Priority>,
        headers: &crate::Headers,
    ) -> Result<(), NotNow<M>>
    where
        M: Send + 'static,
    {
        if !headers.is_empty() {
            return self.try_push_headed(msg, priority, headers);
        }
        if let Some(layers) = &self.send_layers {
            match self.through_layers(layers, &msg, headers) {
                Err(rejection) => return Err(NotNow::Failed(TellError::Refused(msg, rejection))),
                Ok(added) if !added.is_empty() => {
                    return self.try_push_letter(Letter::new(msg, &added), priority);
                }
                Ok(_) => {}
            }
        }
        // Built as a constant variant: a message without headers costs what it did
        // before there were headers (measured: choosing the variant here cost 2 ns).
        match self.user.try_send(Letter::Msg(msg), priority) {
            Ok(()) => Ok(()),
            Err(refused) => Err(self.not_now(refused)),
        }
    }

    /// [`try_push_or_keep`](RefInner::try_push_or_keep) of a message with headers
    /// (through the send layers).
    #[cold]
    #[inline(never)]
    fn try_push_headed(
        &self,
        msg: M,
        priority: Option<Priority>,
        headers: &crate::Headers,
    ) -> Result<(), NotNow<M>>
    where
        M: Send + 'static,
    {
        let letter = self.letter(msg, headers).map_err(NotNow::Failed)?;
        self.try_push_letter(letter, priority)
    }

    /// [`try_push_or_keep`](RefInner::try_push_or_keep) of a letter the send layers have
    /// let through.
    #[cold]
    #[inline(never)]
    fn try_push_letter(
        &self,
        letter: Letter<M>,
        priority: Option<Priority>,
    ) -> Result<(), NotNow<M>>
    where
        M: Send + 'static,
    {
        match self.user.try_send(letter, priority) {
            Ok(()) => Ok(()),
            Err(refused) => Err(self.not_now(refused)),
        }
    }

    /// `msg` as it is queued: through the send layers (which may refuse it, or add
    /// headers), with its headers if it has any.
    fn letter(&self, msg: M, headers: &crate::Headers) -> Result<Letter<M>, TellError<M>>
    where
        M: Send + 'static,
    {
        let layered;
        let headers = match &self.send_layers {
            Some(layers) => match self.through_layers(layers, &msg, headers) {
                Ok(h) => {
                    layered = h;
                    &layered
                }
                Err(rejection) => return Err(TellError::Refused(msg, rejection)),
            },
            None => headers,
        };
        Ok(if headers.is_empty() {
            Letter::Msg(msg)
        } else {
            Letter::new(msg, headers)
        })
    }

    /// `msg` through the send layers, outermost first: the rejection of the first that
    /// refuses it (after publishing its dead letter), or the headers it goes with (those
    /// it was sent with, and those the layers added).
    #[inline(never)]
    fn through_layers(
        &self,
        layers: &[Arc<dyn crate::middleware::SendMiddleware>],
        msg: &M,
        headers: &crate::Headers,
    ) -> Result<crate::Headers, crate::Rejection>
    where
        M: Send + 'static,
    {
        let name = (self.name_of)(msg);
        let mut headers = headers.clone();
        for layer in layers {
            let seen = headers.clone();
            let outgoing = crate::middleware::Outgoing {
                target: self.pid,
                name,
                msg,
                headers: &seen,
            };
            if let crate::middleware::Flow::Refuse(reason) = layer.before_send(&outgoing) {
                self.events.dead_letter(self.pid, name);
                return Err(crate::Rejection::Refused {
                    message: name,
                    reason,
                });
            }
            layer.add_headers(&outgoing, &mut headers);
        }
        Ok(headers)
    }

    #[cold]
    #[inline(never)]
    fn not_now(&self, refused: TellError<Letter<M>>) -> NotNow<M> {
        match refused {
            TellError::Full(letter) => NotNow::Full(letter),
            other => NotNow::Failed(self.refused(other)),
        }
    }

    /// Waits for room on a full bounded lane, then pushes `letter`; `Err(msg)` (after
    /// publishing the dead letter) when the actor stops first. Boxed, for the request
    /// futures that keep it across polls: the one path of a send that allocates.
    pub(crate) fn letter_when_room<'a>(
        &'a self,
        letter: Letter<M>,
        priority: Option<Priority>,
    ) -> PushWhenRoom<'a, M>
    where
        M: Send + 'static,
    {
        Box::pin(async move {
            self.user
                .send(letter, priority)
                .await
                .map_err(|env| self.undeliverable(env))
        })
    }

    /// [`try_push`](RefInner::try_push), then waiting for room if the lane is full.
    pub(crate) async fn push(
        &self,
        msg: M,
        priority: Option<Priority>,
        headers: &crate::Headers,
    ) -> Result<(), M>
    where
        M: Send + 'static,
    {
        match self.try_push_or_keep(msg, priority, headers) {
            Ok(()) => Ok(()),
            Err(NotNow::Full(letter)) => self.letter_when_room(letter, priority).await,
            Err(NotNow::Failed(
                TellError::Dead(msg) | TellError::Refused(msg, _) | TellError::Full(msg),
            )) => Err(msg),
        }
    }

    /// Queues a graceful stop behind everything already on the user lane. `false` when the
    /// actor is already stopping or gone.
    pub(crate) async fn push_graceful_stop(&self) -> bool
    where
        M: 'static,
    {
        self.user.send(Letter::Stop, None).await.is_ok()
    }

    #[cold]
    #[inline(never)]
    fn refused(&self, refused: TellError<Letter<M>>) -> TellError<M> {
        match refused {
            TellError::Full(env) => TellError::Full(into_msg(env)),
            TellError::Dead(env) => TellError::Dead(self.undeliverable(env)),
            TellError::Refused(env, r) => TellError::Refused(into_msg(env), r),
        }
    }

    /// Publishes the dead letter of a message that cannot be delivered, and hands it back.
    #[cold]
    fn undeliverable(&self, env: Letter<M>) -> M {
        self.dead_letter(&env);
        into_msg(env)
    }

    /// Publishes a dead letter for an envelope that could not be delivered.
    pub(crate) fn dead_letter(&self, env: &Letter<M>) {
        let name = match env {
            Letter::Msg(m) => (self.name_of)(m),
            Letter::Headed(b) => (self.name_of)(&b.0),
            Letter::Stop => "graceful stop",
        };
        self.events.dead_letter(self.pid, name);
    }

    /// One more message handled.
    #[inline]
    pub(crate) fn handled_one(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.handled
            .store(self.handled.load(Relaxed).wrapping_add(1), Relaxed);
    }

    /// One more failure (saturating).
    pub(crate) fn failed_one(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.metrics {
            m.failures.increment(1);
        }
        let n = self.failures.load(Relaxed);
        self.failures.store(n.saturating_add(1), Relaxed);
    }

    /// One more restart (saturating).
    pub(crate) fn restarted_one(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.metrics {
            m.restarts.increment(1);
        }
        let n = self.restarts.load(Relaxed);
        self.restarts.store(n.saturating_add(1), Relaxed);
    }

    pub(crate) fn mark_terminated(&self) {
        self.terminated.store(true, Ordering::Release);
        if let Some(notify) = self.user.notify() {
            notify.notify_waiters();
        }
    }

    pub(crate) async fn terminated(&self) {
        #[cfg(feature = "remote")]
        if let UserTx::Remote(lane) = &self.user {
            return lane.target.terminated().await;
        }
        let Some(notify) = self.user.notify() else {
            return std::future::pending().await;
        };
        loop {
            // Created before the check, so a `notify_waiters` in between is not missed.
            let notified = notify.notified();
            if self.terminated.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// A handle to a running actor of type `A`.
///
/// Cheap to clone; equal, hashed and ordered by [`Pid`]. Refs obtained before a
/// supervised restart keep working after it. A ref to an actor that has stopped fails every
/// send at once: `tell` hands the message back, an ask returns [`AskError::Dead`].
///
/// Actors written with `#[actor]` hand out a generated `{Name}Ref` that derefs to this
/// type and adds one method per handler.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// # #[tokio::main] async fn main() {
/// let system = ActorSystem::new();
/// let doubler = system
///     .spawn_fn(|(n, reply): (u32, ReplyTo<u32>)| async move {
///         let _ = reply.send(n * 2);
///     })
///     .await
///     .unwrap();
/// assert_eq!(doubler.ask(|r| (21, r)).await.unwrap(), 42);
/// doubler.stop();
/// doubler.stopped().await;
/// assert!(!doubler.is_alive());
/// assert_eq!(doubler.ask(|r| (1, r)).await, Err(AskError::Dead));
/// # }
/// ```
pub struct ActorRef<A: Actor> {
    pub(crate) inner: Arc<RefInner<A::Msg>>,
    /// Sent with every message through this ref; usually none.
    pub(crate) headers: crate::Headers,
}

impl<A: Actor> ActorRef<A> {
    pub(crate) fn from_inner(inner: Arc<RefInner<A::Msg>>) -> Self {
        ActorRef {
            inner,
            headers: crate::Headers::new(),
        }
    }

    /// The actor's pid.
    pub fn pid(&self) -> Pid {
        self.inner.pid
    }

    /// `true` while the actor takes messages. Turns `false` as soon as it starts stopping.
    pub fn is_alive(&self) -> bool {
        !self.inner.user.is_closed()
    }

    /// Sends a message, waiting for room in a full bounded mailbox.
    ///
    /// Fails only if the actor is not running, handing the message back.
    pub fn tell(&self, msg: A::Msg) -> Tell<'_, A> {
        Tell {
            state: TellState::Start(self, msg),
            priority: None,
        }
    }

    /// Sends a message now, or hands it back in [`TellError::Full`] when a bounded mailbox
    /// has no room (or [`TellError::Dead`] when the actor is not running).
    #[inline]
    pub fn try_tell(&self, msg: A::Msg) -> Result<(), TellError<A::Msg>> {
        self.inner.try_push(msg, None, &self.headers)
    }

    /// Sends the message built by `make` around a fresh reply slot and waits for the reply.
    ///
    /// This is the generic ask, for actors whose messages carry a [`ReplyTo`]; actors
    /// written with `#[actor]` get one typed method per handler instead.
    pub async fn ask<R>(&self, make: impl FnOnce(ReplyTo<R>) -> A::Msg) -> Result<R, AskError> {
        #[cfg(feature = "metrics")]
        let asked = self
            .inner
            .metrics
            .as_deref()
            .and_then(|m| Some((m, m.start()?)));
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .push(make(ReplyTo::new(tx)), None, &self.headers)
            .await
            .is_err()
        {
            return Err(AskError::Dead);
        }
        let reply = Reply::into_result(rx.await);
        #[cfg(feature = "metrics")]
        if let Some((m, at)) = asked {
            m.ask_time.record(at.elapsed());
        }
        reply
    }

    /// Stops the actor: a system message that overtakes queued user messages. The message
    /// being handled finishes; queued ones become dead letters (asks among them fail).
    /// Children stop first, then `post_stop` runs. Returns at once; await
    /// [`stopped`](Self::stopped) to wait for the end.
    pub fn stop(&self) {
        // A send error means the actor is already gone, which is what was asked for.
        let _ = self.inner.sys.send(SystemMsg::Stop);
    }

    /// Stops the actor after it has handled every message queued before this call
    /// (a poison pill on the user lane), and waits until it has stopped.
    pub async fn stop_gracefully(&self) {
        // `false` means the actor is already gone or stopping: waiting is all that is left.
        let _ = self.inner.push_graceful_stop().await;
        self.inner.terminated().await;
    }

    /// Waits until the actor has stopped: its children are gone, `post_stop` has run and
    /// its mailbox is drained.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        async move { inner.terminated().await }
    }

    /// The generated ref type of this actor (`{Name}Ref` for `#[actor]` types).
    pub fn typed(&self) -> A::Ref {
        A::Ref::from(self.clone())
    }

    /// A ref to the same actor whose every send carries `headers` (replacing this ref's
    /// own, if it has any): the handler reads them with
    /// [`Context::headers`](crate::Context::headers). See [`Headers`](crate::Headers).
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Greeter;
    ///
    /// #[actor]
    /// impl Greeter {
    ///     #[handler]
    ///     fn hello(&self, ctx: &mut Context<Self>) -> String {
    ///         let lang = ctx.headers().get("lang").unwrap_or("en");
    ///         if lang == "fr" { "bonjour".into() } else { "hello".into() }
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let greeter = system.spawn(Greeter::default).await?;
    /// assert_eq!(greeter.hello().await?, "hello");
    /// let french = greeter.with_headers(Headers::new().with("lang", "fr"));
    /// assert_eq!(french.hello().await?, "bonjour");
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn with_headers(&self, headers: crate::Headers) -> A::Ref {
        A::Ref::from(ActorRef {
            inner: Arc::clone(&self.inner),
            headers,
        })
    }

    /// The headers every send through this ref carries (usually none).
    pub fn headers(&self) -> &crate::Headers {
        &self.headers
    }
}

/// What [`RefInner::try_push_or_keep`] could not do at once.
pub(crate) enum NotNow<M> {
    /// The lane is full: the letter to wait with.
    Full(Letter<M>),
    /// Dead or refused, as [`RefInner::try_push`] reports it.
    Failed(TellError<M>),
}

impl<M> NotNow<M> {
    /// As [`RefInner::try_push`] reports it: a full lane hands the message back.
    #[cold]
    fn into_error(self) -> TellError<M> {
        match self {
            NotNow::Full(letter) => TellError::Full(into_msg(letter)),
            NotNow::Failed(e) => e,
        }
    }
}

/// The future of [`RefInner::letter_when_room`].
pub(crate) type PushWhenRoom<'a, M> = Pin<Box<dyn Future<Output = Result<(), M>> + Send + 'a>>;

/// The message of an envelope that the send path itself built around it. The send path
/// only ever builds `Letter::Msg`; a graceful stop travels through
/// `push_graceful_stop`, which never hands its envelope back, so `Stop` cannot come back
/// here.
fn into_msg<M>(env: Letter<M>) -> M {
    match env {
        Letter::Msg(m) => m,
        Letter::Headed(b) => b.0,
        Letter::Stop => unreachable!("the send path never builds a graceful stop"),
    }
}

impl<A: Actor> AsRef<ActorRef<A>> for ActorRef<A> {
    fn as_ref(&self) -> &ActorRef<A> {
        self
    }
}

impl<A: Actor> Clone for ActorRef<A> {
    fn clone(&self) -> Self {
        ActorRef {
            inner: Arc::clone(&self.inner),
            headers: self.headers.clone(),
        }
    }
}

impl<A: Actor> fmt::Debug for ActorRef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorRef")
            .field("type", &(self.inner.type_name)())
            .field("pid", &self.inner.pid)
            .finish()
    }
}

impl<A: Actor> PartialEq for ActorRef<A> {
    fn eq(&self, other: &Self) -> bool {
        self.inner.pid == other.inner.pid
    }
}

impl<A: Actor> Eq for ActorRef<A> {}

impl<A: Actor> Hash for ActorRef<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.pid.hash(state);
    }
}

/// A ref serializes as its pid. Inside a message between nodes (feature `remote`) it
/// also carries the address of its home node, `(pid, address)`, so that it works on
/// whichever node receives it.
#[cfg(feature = "serde")]
impl<A: Actor> serde::Serialize for ActorRef<A> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[cfg(feature = "remote")]
        if let Some(home) = crate::remote::codec::home() {
            let home = match &self.inner.user {
                UserTx::Remote(lane) => Arc::clone(&lane.target.address),
                _ => home,
            };
            return (self.inner.pid, &*home).serialize(s);
        }
        self.inner.pid.serialize(s)
    }
}

/// Deserializes the pid and resolves it in the system given to
/// [`ActorSystem::with_deserialization`](crate::ActorSystem::with_deserialization). A pid
/// of no live actor becomes a ref whose sends fail (and go to dead letters), as a ref to
/// an actor that stopped would.
#[cfg(feature = "serde")]
impl<'de, A: Actor> serde::Deserialize<'de> for ActorRef<A> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[cfg(feature = "remote")]
        let (pid, home) = if crate::remote::codec::is_from_wire() {
            let (pid, home) = <(Pid, String)>::deserialize(d)?;
            (pid, Some(home))
        } else {
            (Pid::deserialize(d)?, None)
        };
        #[cfg(not(feature = "remote"))]
        let (pid, home) = (Pid::deserialize(d)?, None::<String>);
        let system = crate::system::deserialization_system().ok_or_else(|| {
            D::Error::custom(
                "an actor ref can only be deserialized inside `ActorSystem::with_deserialization`",
            )
        })?;
        #[cfg(feature = "remote")]
        if let Some(node) = system.node_shared() {
            return Ok(node.resolve::<A>(&system, pid, home));
        }
        let _ = home;
        match system.resolve_raw::<A>(pid) {
            Ok(r) => Ok(r),
            Err(crate::LookupError::NotFound(_)) => Ok(ActorRef::detached(pid, &system)),
            Err(e) => Err(D::Error::custom(e)),
        }
    }
}

impl<A: Actor> ActorRef<A> {
    /// A ref to no live actor: every send fails as it would for a stopped one.
    #[cfg(feature = "serde")]
    pub(crate) fn detached(pid: Pid, system: &crate::ActorSystem) -> Self {
        let user = crate::mailbox::channel_lane(crate::MailboxConfig::Bounded(1));
        let (sys, _) = crate::syslane::sys_lane();
        let inner = RefInner::new(
            pid,
            user,
            SysTx::Local(sys),
            Arc::clone(system.events_arc()),
            A::message_name,
            std::any::type_name::<A>,
        );
        inner.mark_terminated();
        let inner = Arc::new(inner);
        // Its receiver, dropped at once, closes the lane: every send fails as dead.
        drop(crate::mailbox::UserRx::channel(Arc::clone(&inner)));
        ActorRef::from_inner(inner)
    }
}

/// What travels back to an asker.
pub(crate) enum Reply<R> {
    Value(R),
    /// The actor failed while handling the request.
    Failed,
    /// The request failed another way (feature `remote`: the node is down, the reply
    /// could not be decoded, the target was unknown there).
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    Error(AskError),
}

impl<R> Reply<R> {
    pub(crate) fn into_result(
        r: Result<Reply<R>, oneshot::error::RecvError>,
    ) -> Result<R, AskError> {
        match r {
            Ok(Reply::Value(v)) => Ok(v),
            Ok(Reply::Failed) => Err(AskError::Failed),
            Ok(Reply::Error(e)) => Err(e),
            Err(_) => Err(AskError::NoReply),
        }
    }
}

/// The reply slot of one ask. Handlers written with `#[actor]` never see it: the generated
/// code replies with the handler's return value. Hand-written messages carry it.
///
/// Dropped without a reply, the asker gets [`AskError::NoReply`]; dropped while the
/// handler panics, [`AskError::Failed`].
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// # #[tokio::main] async fn main() {
/// let system = ActorSystem::new();
/// let echo = system
///     .spawn_fn(|reply: ReplyTo<&'static str>| async move {
///         let _ = reply.send("pong");
///     })
///     .await
///     .unwrap();
/// assert_eq!(echo.ask(|r| r).await.unwrap(), "pong");
/// # }
/// ```
pub struct ReplyTo<R>(Option<Slot<R>>);

enum Slot<R> {
    /// The asker waits in this process.
    Local(oneshot::Sender<Reply<R>>),
    /// The asker waits on another node (feature `remote`): the reply is encoded and sent.
    /// Boxed, so that the slot, and every local message, stays two words.
    #[cfg(feature = "remote")]
    Remote(Box<crate::remote::ReplySink<R>>),
}

// Two words, whatever the features: local messages carry nothing more for remote asks.
const _: () = assert!(std::mem::size_of::<ReplyTo<u64>>() <= 2 * std::mem::size_of::<usize>());

impl<R> ReplyTo<R> {
    pub(crate) fn new(tx: oneshot::Sender<Reply<R>>) -> Self {
        ReplyTo(Some(Slot::Local(tx)))
    }

    /// A slot that answers nobody: what a handler taking its `ReplyTo` gets for a tell
    /// (`send` hands the value back, `is_closed` is `true`). Used by generated code.
    #[doc(hidden)]
    pub fn detached() -> Self {
        ReplyTo(None)
    }

    #[cfg(feature = "remote")]
    pub(crate) fn remote(sink: crate::remote::ReplySink<R>) -> Self {
        ReplyTo(Some(Slot::Remote(Box::new(sink))))
    }

    /// Sends the reply. Hands it back if the asker is gone (it timed out or was dropped).
    /// A reply to an asker on another node is handed back only when it cannot be encoded.
    pub fn send(mut self, reply: R) -> Result<(), R> {
        match self.0.take() {
            Some(Slot::Local(tx)) => match tx.send(Reply::Value(reply)) {
                Ok(()) => Ok(()),
                Err(Reply::Value(reply)) => Err(reply),
                Err(_) => Ok(()),
            },
            #[cfg(feature = "remote")]
            Some(Slot::Remote(sink)) => sink.reply(reply),
            None => Err(reply),
        }
    }

    /// Ends the ask with `error` instead of a reply.
    #[cfg_attr(not(feature = "remote"), allow(dead_code))]
    pub(crate) fn fail_with(mut self, error: AskError) {
        match self.0.take() {
            // The asker may be gone; then nobody needs to know.
            Some(Slot::Local(tx)) => {
                let _ = tx.send(Reply::Error(error));
            }
            #[cfg(feature = "remote")]
            Some(Slot::Remote(sink)) => sink.fail(error),
            None => {}
        }
    }

    /// Ends the ask with `error`: its handler will not run (the actor refused it). Used by
    /// generated code.
    #[doc(hidden)]
    pub fn refuse(self, error: AskError) {
        self.fail_with(error);
    }

    /// Tells the asker the actor failed on its request ([`AskError::Failed`]). Used by
    /// generated code for `#[handler(fail_on_error)]`.
    #[doc(hidden)]
    pub fn fail(mut self) {
        match self.0.take() {
            // The asker may be gone; then nobody needs to know.
            Some(Slot::Local(tx)) => {
                let _ = tx.send(Reply::Failed);
            }
            #[cfg(feature = "remote")]
            Some(Slot::Remote(sink)) => sink.fail(AskError::Failed),
            None => {}
        }
    }

    /// `true` when the asker no longer waits. An asker on another node counts as waiting
    /// until it is answered.
    pub fn is_closed(&self) -> bool {
        match &self.0 {
            Some(Slot::Local(tx)) => tx.is_closed(),
            #[cfg(feature = "remote")]
            Some(Slot::Remote(_)) => false,
            None => true,
        }
    }
}

impl<R> Drop for ReplyTo<R> {
    fn drop(&mut self) {
        match self.0.take() {
            // Dropped during a panic: the handler failed on this request. Otherwise the
            // asker sees the closed channel as NoReply.
            Some(Slot::Local(tx)) if std::thread::panicking() => {
                let _ = tx.send(Reply::Failed);
            }
            Some(Slot::Local(_)) => {}
            // The asker on another node learns the same, in a failure reply.
            #[cfg(feature = "remote")]
            Some(Slot::Remote(sink)) => sink.fail(if std::thread::panicking() {
                AskError::Failed
            } else {
                AskError::NoReply
            }),
            None => {}
        }
    }
}

impl<R> fmt::Debug for ReplyTo<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("closed", &self.is_closed())
            .finish()
    }
}
