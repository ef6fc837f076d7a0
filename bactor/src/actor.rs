//! The [`Actor`] trait.
//!
//! An actor is a value that owns its state and handles one message at a time. It is usually
//! written with `#[actor]`, which implements this trait: the generated `handle` is one
//! `match` over the generated message enum, and the lifecycle hooks found by name in the
//! `impl` block are forwarded. Writing the trait by hand is possible and is what the
//! closure-based creation patterns in [`Props`](crate::Props) do.

use std::future::Future;

use crate::context::Context;
use crate::error::ActorError;
use crate::error::StopReason;
use crate::mailbox::{Mailbox, MailboxConfig, Priority};
use crate::supervision::SupervisorStrategy;
use crate::{ActorRef, Pid};

/// An actor: state plus a message handler, run by the runtime one message at a time.
///
/// # Example
///
/// A hand-written actor (what `#[actor]` generates, without the typed ref methods):
///
/// ```
/// use bactor::prelude::*;
///
/// struct Adder {
///     total: u64,
/// }
///
/// impl Actor for Adder {
///     type Msg = (u64, ReplyTo<u64>);
///     type Ref = ActorRef<Self>;
///
///     async fn handle(&mut self, (n, reply): Self::Msg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
///         self.total += n;
///         let _ = reply.send(self.total);
///         Ok(())
///     }
/// }
///
/// # #[tokio::main] async fn main() {
/// let system = ActorSystem::new();
/// let adder = system.spawn(|| Adder { total: 0 }).await.unwrap();
/// assert_eq!(adder.ask(|r| (2, r)).await.unwrap(), 2);
/// assert_eq!(adder.ask(|r| (3, r)).await.unwrap(), 5);
/// system.shutdown().await;
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an actor",
    note = "put `#[actor]` on both the struct and its `impl` block, or implement `bactor::Actor` by hand"
)]
pub trait Actor: Send + Sized + 'static {
    /// The messages this actor handles. `#[actor]` generates `{Name}Msg`.
    type Msg: Send + 'static;

    /// The ref type handed out by `spawn`. `#[actor]` generates `{Name}Ref`, a newtype over
    /// [`ActorRef<Self>`] with one method per handler; hand-written actors use `ActorRef<Self>`.
    type Ref: From<ActorRef<Self>> + Clone + Send + Sync + 'static;

    /// Handles one message. An `Err` is a failure of the actor, not a reply (replies to
    /// askers travel inside the message): the actor is suspended and its supervisor decides.
    fn handle(
        &mut self,
        msg: Self::Msg,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send;

    /// Runs before the first message. An error (or a panic) is a failure: the supervisor
    /// decides (by default it restarts the actor, up to the restart limit).
    fn pre_start(
        &mut self,
        _ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        async { Ok(()) }
    }

    /// Runs exactly once, after the actor's children have stopped and before its pid is
    /// released. Not run on restart (the old instance is dropped instead).
    fn post_stop(&mut self, _ctx: &mut Context<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs on the failed instance before a restart replaces it. Its children are stopped
    /// right after. A panic here is reported and the restart goes on.
    fn pre_restart(
        &mut self,
        _ctx: &mut Context<Self>,
        _reason: &ActorError,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Runs on the fresh instance after a restart, before the next message. By default it
    /// runs [`pre_start`](Self::pre_start). An error is a new failure.
    fn post_restart(
        &mut self,
        ctx: &mut Context<Self>,
        _reason: &ActorError,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        self.pre_start(ctx)
    }

    /// Runs when a watched actor or a child terminates (see
    /// [`Context::watch`](crate::Context::watch)). `reason` is
    /// [`StopReason::NotFound`] when the watched pid was already dead.
    ///
    /// It runs after every message the terminated actor sent this one before it stopped
    /// (as in Akka): the notice waits until the user messages queued when it arrived are
    /// handled. (A message this actor stashed, or that a custom mailbox reorders, may
    /// still come after it.)
    fn on_terminated(
        &mut self,
        _ctx: &mut Context<Self>,
        _pid: Pid,
        _reason: &StopReason,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        async { Ok(()) }
    }

    /// Runs when no user message has arrived for the receive timeout set with
    /// [`Context::set_receive_timeout`], and again after each further such period while
    /// the actor stays idle. An error (or a panic) is a failure.
    fn on_receive_timeout(
        &mut self,
        _ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        async { Ok(()) }
    }

    /// Runs when something woke the actor on its system lane (a router's management
    /// commands). Nothing by default.
    #[doc(hidden)]
    fn poked(
        &mut self,
        _ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        async { Ok(()) }
    }

    /// Recovers persistent state before `pre_start` / `post_restart`. Generated for
    /// persistent actors; nothing to do for others.
    #[doc(hidden)]
    fn recover(
        &mut self,
        _ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), ActorError>> + Send {
        async { Ok(()) }
    }

    /// How this actor supervises its children; `None` takes the default (one-for-one,
    /// restart, 10 restarts within 10 s). `#[supervise(...)]` sets it.
    fn supervisor_strategy() -> Option<SupervisorStrategy> {
        None
    }

    /// The mailbox size for actors of this type; `None` takes the system's default.
    /// `#[actor(mailbox = 64)]` / `#[actor(mailbox = unbounded)]` sets it.
    fn mailbox() -> Option<MailboxConfig> {
        None
    }

    /// A queue of your own for each actor of this type (see [`Mailbox`]); `None` takes
    /// the built-in kind. `#[actor(mailbox = MyMailbox)]` sets it.
    fn custom_mailbox() -> Option<Box<dyn Mailbox<Self::Msg>>> {
        None
    }

    /// Whether actors of this type get a [`PriorityMailbox`](crate::mailbox::PriorityMailbox)
    /// (unless they have a custom one). `#[actor]` says yes when a handler declares
    /// `#[handler(priority = high)]` or `low`.
    fn has_priorities() -> bool {
        false
    }

    /// The [`Priority`] of a message; `#[actor]` generates it from the handlers'
    /// `#[handler(priority = ..)]`.
    fn message_priority(_msg: &Self::Msg) -> Priority {
        Priority::Normal
    }

    /// Messages per turn for actors of this type; `None` takes the system's default.
    /// `#[actor(throughput = ..)]` sets it.
    fn throughput() -> Option<usize> {
        None
    }

    /// How other nodes reach this actor (feature `remote`); `#[actor(remote)]`
    /// generates it. `None`: the actor is local only.
    #[cfg(feature = "remote")]
    #[doc(hidden)]
    fn remote_stub() -> Option<crate::remote::RemoteStub<Self>> {
        None
    }

    /// How many messages this actor's stash holds; `None` takes
    /// [`DEFAULT_STASH_CAPACITY`](crate::behavior::DEFAULT_STASH_CAPACITY).
    /// `#[actor(stash = ..)]` sets it.
    fn stash_capacity() -> Option<usize> {
        None
    }

    /// `true` when some handler serves only some states (`#[handler(when = ..)]`): the
    /// runtime then asks [`admit`](Self::admit) before each message.
    #[doc(hidden)]
    const HAS_BEHAVIOR: bool = false;

    /// Whether the current state serves `msg`, and what to do with it if not.
    #[doc(hidden)]
    fn admit(&self, _msg: &Self::Msg) -> crate::behavior::Admit {
        crate::behavior::Admit::Serve
    }

    /// Identifies the current state's variant: a change means the stash may be served.
    #[doc(hidden)]
    fn state_key(&self) -> u64 {
        0
    }

    /// The current state's name, for rejections.
    #[doc(hidden)]
    fn state_name(&self) -> String {
        String::new()
    }

    /// Ends the ask inside `msg`, if it is one, with `error` (its asker learns why it was
    /// not handled). By default the message is dropped: its asker gets
    /// [`AskError::NoReply`](crate::AskError::NoReply).
    #[doc(hidden)]
    fn refuse(msg: Self::Msg, error: crate::AskError) {
        let _ = error;
        drop(msg);
    }

    /// The routing key of a message, for consistent-hash routers: generated from
    /// `#[handler(route_key = arg)]` (a stable hash of that argument); `None` for messages
    /// without one.
    fn route_key(_msg: &Self::Msg) -> Option<u64> {
        None
    }

    /// A short name of a message, for dead letters and logs. `#[actor]` returns
    /// `Type::handler`.
    fn message_name(_msg: &Self::Msg) -> &'static str {
        std::any::type_name::<Self::Msg>()
    }
}
