#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]
#![doc(test(no_crate_inject, attr(deny(warnings))))]

mod actor;
mod actor_ref;
pub mod behavior;
mod cell;
mod context;
#[cfg(feature = "dashboard")]
pub mod dashboard;
mod error;
mod events;
pub mod headers;
pub mod mailbox;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod middleware;
mod panics;
#[cfg(feature = "persist")]
mod persistence;
mod pid;
mod props;
#[cfg(feature = "remote")]
pub mod remote;
mod request;
pub mod router;
mod supervision;
mod syslane;
mod system;
#[cfg(feature = "testkit")]
pub mod testkit;
mod trace;

pub use actor::Actor;
pub use actor_ref::{ActorRef, ReplyTo};
pub use behavior::{Behavior, BehaviorActor, Next, Otherwise};
pub use context::{Context, TimerHandle};
pub use error::{
    ActorError, AskError, LookupError, Rejection, RemoteFailure, ShutdownTimedOut, SpawnError,
    StartError, StopReason, TellError,
};
pub use events::{ActorInfo, DeadLetter, EventStream, Subscription, SystemEvent};
pub use headers::Headers;
pub use mailbox::{DEFAULT_THROUGHPUT, Mailbox, MailboxConfig, Priority};
pub use panics::quiet_actor_panics;
#[cfg(feature = "persist")]
pub use persistence::{
    BadSnapshot, OnConflict, PersistConfig, PersistError, PersistErrorKind, Persistence,
    PersistentActor, RecoveryError, Upcaster,
};
pub use pid::Pid;

/// The event stores (feature `persist`): [`persist::SqliteStore`] (the embedded default),
/// `persist::PostgresStore` (feature `postgres`), [`persist::MemoryStore`], and the traits
/// a backend implements. Re-exported from `bactor-persist`.
#[cfg(feature = "persist")]
pub mod persist {
    pub use bactor_persist::*;
}
pub use props::{FnActor, FuncActor, Props, StateActor};
pub use request::{Ask, Fallible, Plain, ReplyShape, Request, Tell, Timed, TimedAsk};
pub use router::{Broadcast, Router, Routing};
pub use supervision::{Backoff, Decider, Directive, Strategy, SupervisorEvent, SupervisorStrategy};
pub use system::{ActorSystem, ActorSystemBuilder};

/// Turns a struct (or enum) and its `impl` block into an actor.
///
/// Put `#[actor]` on the type definition **and** on its inherent `impl` block.
///
/// - On the type it generates `{Name}Ref`, the typed ref (a newtype over
///   [`ActorRef<Name>`](ActorRef), with the type's visibility).
/// - On the `impl` block it generates `{Name}Msg` (one variant per `#[handler]`), one method
///   per handler on `{Name}Ref` (with the handler's visibility and docs), and
///   `impl Actor for Name`. Methods named `pre_start`, `post_stop`, `pre_restart`,
///   `post_restart`, `on_terminated` and `on_receive_timeout` are lifecycle hooks.
///
/// # Arguments
///
/// On the type:
/// - `mailbox = 64` / `mailbox = bounded(64)` / `mailbox = unbounded`: the user lane
///   (default: bounded, 1024, or the system's default). `mailbox = MyMailbox` (a type
///   implementing [`Mailbox`], made with `Default`) or `mailbox = MyMailbox::new(8)` (an
///   expression, evaluated at each spawn): a queue of your own (see [`mailbox`]).
/// - `throughput = 100`: messages per turn before the actor yields (default 300).
/// - `state = field`: the field holding the actor's state enum, which
///   `#[handler(when = ..)]` looks at (see [`behavior`]).
/// - `otherwise = stash | reject | drop`: what happens to a message whose handler does not
///   serve the current state (default `reject`); a handler may say otherwise.
/// - `stash = 100`: the stash's capacity (default 1024).
/// - `crate = path`: where to find bactor, when it is re-exported under another path.
///
/// On the `impl` block: `remote` (feature `remote`) and `crate = path`.
///
/// # Handlers
///
/// A `#[handler]` method takes `&self` or `&mut self`, may be `async`, may take one
/// `ctx: &mut Context<Self>` anywhere among its parameters, and any number of owned
/// arguments. Its return value is the reply: awaiting the request yields
/// `Result<T, AskError>`, or `Result<T, AskError<E>>` for a handler returning
/// `Result<T, E>` (its `Err(e)` arrives as [`AskError::Handler`]). `#[handler(reply = plain)]`
/// keeps a `Result` as a plain value; `#[handler(reply = result)]` treats an alias such as
/// `io::Result<T>` as fallible. `#[handler(priority = high)]` (or `low`) gives the handler's
/// messages that [`Priority`] and the actor a [`PriorityMailbox`](mailbox::PriorityMailbox),
/// which serves higher levels first (system messages still come first); `#[handler(fail_on_error)]` makes an `Err` a failure of the actor (see
/// supervision) instead of a reply. `#[handler(when = Open | Ajar(..) | Closed { .. })]`
/// serves only those variants of the actor's state (a name for a unit variant, `(..)` for
/// a tuple variant, `{ .. }` for a struct variant), and `otherwise = ..` overrides the
/// actor's policy for this handler's messages in the other states.
///
/// **Deferred replies.** A handler may instead take its reply slot, a `reply: ReplyTo<T>`
/// parameter, and return nothing: the asker waits for `T` (with the same typed
/// `Result<T, AskError<E>>` for a `T` of `Result<_, E>`) until the slot's
/// [`send`](ReplyTo::send), which can happen later, from a task, or from a later
/// message that finds the slot in the actor's state (kameo's `DelegatedReply`, Akka's
/// `replyTo`). A slot dropped unanswered ends the ask with [`AskError::NoReply`], never a
/// hang. For a tell, the slot answers nobody ([`ReplyTo::is_closed`]). The reply of a
/// persistent actor's deferred handler is not held for its `persist_deferred` events: it
/// is sent when the code sends it. To hand a slot to another actor, wrap it in a type of
/// your own (a `ReplyTo<T>` parameter is always the handler's own slot).
///
/// ```
/// use bactor::prelude::*;
///
/// #[actor]
/// #[derive(Default)]
/// struct Oracle;
///
/// #[actor]
/// impl Oracle {
///     #[handler]
///     fn think(&mut self, question: String, reply: ReplyTo<usize>) {
///         // The actor goes on with its next message; the answer comes later.
///         tokio::spawn(async move {
///             let _ = reply.send(question.len());
///         });
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new();
/// let oracle = system.spawn(Oracle::default).await?;
/// assert_eq!(oracle.think("why?".into()).await?, 4);
/// # system.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Lifecycle hooks have the shape `async fn pre_start(&mut self, ctx: &mut Context<Self>)
/// -> Result<(), E>` and `async fn post_stop(&mut self, ctx: &mut Context<Self>)`, where
/// `async`, `ctx` and the `Result` are optional and `E` converts into [`ActorError`].
///
/// A hook is recognised by its name, so a misspelled one would silently be a plain method
/// that bactor never calls. `#[actor]` refuses a method whose name resembles a hook's
/// (`pre_strat`, `preStart`, `on_terminate`, or another framework's name such as kameo's
/// `on_start`), and names the hook. Mark a method that really has such a name
/// `#[not_hook]`:
///
/// ```
/// use bactor::prelude::*;
///
/// #[actor]
/// struct Session {
///     ended: bool,
/// }
///
/// #[actor]
/// impl Session {
///     #[not_hook] // a plain method, not the `on_terminated` hook
///     fn on_terminate(&mut self) {
///         self.ended = true;
///     }
///
///     #[handler]
///     fn end(&mut self) -> bool {
///         self.on_terminate();
///         self.ended
///     }
/// }
/// ```
///
/// # Compile errors
///
/// Each mistake is one error, spanned on the offending token and naming the fix. The rest
/// of the actor is still generated: a rejected handler keeps its method on the ref, a
/// rejected `#[event]` its variant, so code that uses them reports nothing more. What the
/// macro can see it checks itself: a handler argument or reply that cannot cross threads
/// (`Rc`, raw pointers), a hook's return type, a `#[persistent]` actor without `#[event]`
/// methods, every attribute value ("`throughput` takes ..., like `throughput = 100`").
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// #[actor(mailbox = 16)]
/// #[derive(Default)]
/// pub struct Counter {
///     count: u64,
/// }
///
/// #[actor]
/// impl Counter {
///     /// Adds `by`, returns the new total.
///     #[handler]
///     pub fn add(&mut self, by: u64) -> u64 {
///         self.count += by;
///         self.count
///     }
///
///     #[handler]
///     pub async fn slow_get(&self) -> u64 {
///         tokio::task::yield_now().await;
///         self.count
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new();
/// let counter: CounterRef = system.spawn(Counter::default).await?;
/// counter.add(2).tell().await?;
/// assert_eq!(counter.slow_get().await?, 2);
/// # system.shutdown().await;
/// # Ok(()) }
/// ```
///
/// # Equivalent code without `#[actor]`
///
/// ```
/// use bactor::prelude::*;
///
/// pub struct Counter {
///     count: u64,
/// }
///
/// pub enum CounterMsg {
///     Add { by: u64, reply: Option<ReplyTo<u64>> },
/// }
///
/// #[derive(Clone)]
/// pub struct CounterRef(ActorRef<Counter>);
///
/// impl From<ActorRef<Counter>> for CounterRef {
///     fn from(r: ActorRef<Counter>) -> Self {
///         CounterRef(r)
///     }
/// }
///
/// impl CounterRef {
///     pub fn add(&self, by: u64) -> bactor::Request<'_, Counter, u64> {
///         bactor::Request::new(&self.0, CounterMsg::Add { by, reply: None }, |msg, reply| {
///             let CounterMsg::Add { reply: slot, .. } = msg;
///             *slot = Some(reply);
///         })
///     }
/// }
///
/// impl Actor for Counter {
///     type Msg = CounterMsg;
///     type Ref = CounterRef;
///
///     async fn handle(&mut self, msg: CounterMsg, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
///         match msg {
///             CounterMsg::Add { by, reply } => {
///                 self.count += by;
///                 if let Some(reply) = reply {
///                     let _ = reply.send(self.count);
///                 }
///             }
///         }
///         Ok(())
///     }
/// }
///
/// # #[tokio::main] async fn main() {
/// let system = ActorSystem::new();
/// let counter = system.spawn(|| Counter { count: 0 }).await.unwrap();
/// assert_eq!(counter.add(3).await.unwrap(), 3);
/// # }
/// ```
///
/// # Renaming the crate
///
/// ```
/// mod rt {
///     pub use bactor::*;
/// }
///
/// #[rt::actor(crate = crate::rt)]
/// struct Echo;
///
/// #[rt::actor(crate = crate::rt)]
/// impl Echo {
///     #[handler]
///     fn echo(&self, s: String) -> String {
///         s
///     }
/// }
/// # fn main() {}
/// ```
///
/// # Common mistakes
///
/// Each mistake gets one error, spanned on the offending token. The macro's own errors
/// carry no error code, so they are checked by the compile-fail cases in `ui-tests/`
/// (which compare the whole message) rather than here. For example:
///
/// ```text
/// #[handler]
/// fn consume(self) {}
///            ^^^^ `#[handler]` methods take `&self` or `&mut self`; found `self` by value
///                 (the actor lives on after each message)          [handler/fail/self-by-value.rs]
///
/// #[handler]
/// fn greet(&self, name: &str) {}
///                       ^^^^ handler arguments are moved into the message and must own
///                            their data; use an owned type (e.g. `String` for `&str`) or a
///                            `&'static` reference                  [handler/fail/reference-args.rs]
/// ```
///
/// Both the struct and the `impl` block need `#[actor]` (rustc's E0277, naming the fix):
///
/// ```compile_fail,E0277
/// use bactor::prelude::*;
///
/// struct Counter;
///
/// #[actor]
/// impl Counter {}
/// ```
pub use bactor_macros::actor;

/// Marks a method of an `#[actor]` impl block as a message handler.
///
/// Only meaningful inside an `#[actor]` impl block, which reads and removes it; anywhere else
/// it is a compile error. See [`actor`] for the handler rules and the arguments
/// (`#[handler(reply = plain | result)]`).
///
/// ```text
/// impl NotAnActor {
///     #[handler]
///     ^^^^^^^^^^ `#[handler]` must be used on a method inside an `#[actor]` impl block
///     fn get(&self) -> u32 { 1 }
/// }
/// ```
///
/// (Checked by `ui-tests/tests/ui/handler/fail/outside-actor.rs`.)
pub use bactor_macros::handler;

/// Sets how an `#[actor]` supervises its children. Goes on the struct or enum, next to
/// `#[actor]`.
///
/// # Arguments
///
/// - `strategy = one_for_one | all_for_one`: Restart and Stop apply to the failing child
///   only, or to all children (default `one_for_one`).
/// - `max_restarts = 10`: restarts allowed within `within`; one more failure stops the child
///   (default 10; `0` stops at the first failure).
/// - `within = "10s"`: the window for `max_restarts` (default 10 s; `"0s"` counts every
///   failure ever). Durations take the units `ns`, `us`, `ms`, `s`, `m`, `h`.
/// - `backoff = exponential(min = "100ms", max = "10s", jitter = 0.2, reset = "5s")`: wait
///   `min · 2ⁿ⁻¹` (capped at `max`, ± `jitter`) before the n-th consecutive restart; the
///   count resets after `reset` without failures (default `(min + max) / 2`).
/// - `decide = path::to::fn`: a `fn(&ActorError) -> Directive` choosing Resume, Restart,
///   Stop or Escalate (default: always Restart).
///
/// Everything is checked at compile time: unknown keys, malformed durations, `min > max`,
/// a jitter outside `0.0..=1.0`, and options that contradict each other.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// fn decide(error: &ActorError) -> Directive {
///     if error.is_panic() { Directive::Restart } else { Directive::Stop }
/// }
///
/// #[actor]
/// #[supervise(
///     strategy = one_for_one,
///     max_restarts = 3,
///     within = "1s",
///     backoff = exponential(min = "10ms", max = "1s", jitter = 0.1),
///     decide = decide,
/// )]
/// struct Boss;
///
/// #[actor]
/// impl Boss {}
///
/// let strategy = <Boss as Actor>::supervisor_strategy().unwrap();
/// assert_eq!(strategy.max_restarts_value(), 3);
/// ```
///
/// A duration needs a unit (checked by `ui-tests/tests/ui/supervise/fail/bad-durations.rs`):
///
/// ```text
/// #[supervise(within = "10")]
///                      ^^^^ duration `10` has no unit; write e.g. "10ms" or "10s"
///                           (units: ns, us, ms, s, m, h)
/// ```
pub use bactor_macros::supervise;

/// Makes an `#[actor]` struct event-sourced. See the [`persistence`](PersistentActor)
/// docs for the whole picture.
///
/// # Arguments
///
/// - `snapshot_every = 100`: save a snapshot of the state every 100 events (the state must
///   then be `Serialize + Deserialize`); recovery starts from the newest one.
/// - `keep_snapshots = 2`: keep the 2 newest snapshots, delete older ones (needs
///   `snapshot_every`).
/// - `bad_snapshot = older` (the default) or `fail`: what recovery does with a snapshot
///   that no longer decodes (see [`BadSnapshot`]).
/// - `on_conflict = stop` (the default) or `restart`: what the actor does when another
///   live incarnation wrote to its journal first (see [`OnConflict`]).
/// - `upcast = path::to::function`: an [`Upcaster`] that turns events written by older
///   versions into current ones before they are decoded.
///
/// The impl block's `#[event]` methods (`fn deposited(&mut self, amount: u64)`) generate the
/// `{Name}Event` enum (serde, externally tagged JSON) and the glue that applies events when
/// they are persisted and when they are replayed. `#[event(name = "account.deposited")]`
/// gives an event a stored name (manifest and JSON tag) that survives renaming the method,
/// and `#[serde(..)]` attributes on an event's arguments go to its fields
/// (`#[serde(default)] note: String` for a field added later).
///
/// ```compile_fail,E0277
/// use bactor::prelude::*;
///
/// #[actor]
/// #[persistent(snapshot_every = 10)]
/// struct NotSerializable; // snapshots need Serialize + Deserialize
///
/// #[actor]
/// impl NotSerializable {
///     #[event]
///     fn happened(&mut self) {}
/// }
/// ```
#[cfg(feature = "persist")]
pub use bactor_macros::persistent;

/// Marks an `#[actor]` impl method as an event handler of a `#[persistent]` actor. See
/// [`persistent`].
#[cfg(feature = "persist")]
pub use bactor_macros::event;

/// Everything an actor program usually needs: `use bactor::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Actor, ActorError, ActorRef, ActorSystem, AskError, Backoff, Context, Directive, FuncActor,
        Headers, MailboxConfig, Pid, Props, ReplyTo, SpawnError, StartError, StopReason,
        SupervisorStrategy, SystemEvent, TellError, actor, handler, supervise,
    };
    #[cfg(feature = "persist")]
    pub use crate::{PersistError, PersistentActor, event, persistent};
}

/// Not public API; used by bactor-macros.
#[doc(hidden)]
pub mod __private {
    pub use crate::Pid;
    pub use crate::StopReason;
    pub use crate::actor::Actor;
    pub use crate::actor_ref::{ActorRef, ReplyTo};
    pub use crate::behavior::{Admit, Otherwise};
    pub use crate::cell::sizes;
    pub use crate::context::Context;
    pub use crate::error::ActorError;
    pub use crate::error::{AskError, Rejection};
    pub use crate::mailbox::{Mailbox, MailboxConfig, Priority};
    pub use crate::request::{Fallible, Plain, Request};
    pub use crate::supervision::{Backoff, Directive, SupervisorStrategy};
    pub use core::time::Duration;

    /// The state of an actor with behaviours: `#[actor(state = field)]` on the struct
    /// implements it; `#[handler(when = ..)]` needs it.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` needs `#[actor]` on its definition",
        note = "write `#[actor]` above `struct {Self}` (and `#[actor(state = field)]` to use `when`)"
    )]
    pub trait HasState {
        /// The state enum.
        type State;
        /// What to do with a message whose handler does not serve the state, unless the
        /// handler says otherwise (`#[actor(otherwise = ..)]`).
        const OTHERWISE: Otherwise;
        /// The current state.
        fn state(&self) -> &Self::State;
    }

    /// Identifies the variant of `state`, to notice a change of state.
    pub fn state_key<S>(state: &S) -> u64 {
        stable_hash(&core::mem::discriminant(state))
    }

    /// What a `#[handler(route_key = arg)]` argument must be.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a route key: consistent-hash routing hashes it",
        label = "not `Hash`",
        note = "derive `Hash` for it, or route by another argument"
    )]
    pub trait RouteKey {
        /// The stable hash of the key.
        fn route_hash(&self) -> u64;
    }

    #[diagnostic::do_not_recommend]
    impl<T: core::hash::Hash + ?Sized> RouteKey for T {
        fn route_hash(&self) -> u64 {
            stable_hash(self)
        }
    }

    /// The routing key of a message's `route_key` argument.
    pub fn route_key<T: RouteKey + ?Sized>(value: &T) -> u64 {
        value.route_hash()
    }

    /// A stable hash (FNV-1a, 64 bits) of `value`: the same for the same value in every
    /// process of one build, unlike std's randomly keyed `DefaultHasher`. Routing keys.
    pub fn stable_hash<T: core::hash::Hash + ?Sized>(value: &T) -> u64 {
        struct Fnv(u64);
        impl core::hash::Hasher for Fnv {
            fn finish(&self) -> u64 {
                // A final mix, so that keys differing in their last bytes spread on a ring.
                let mut h = self.0;
                h ^= h >> 33;
                h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
                h ^= h >> 33;
                h
            }
            fn write(&mut self, bytes: &[u8]) {
                for b in bytes {
                    self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        value.hash(&mut h);
        core::hash::Hasher::finish(&h)
    }

    /// The name of a state for rejections: its variant name when it is `Debug`, else its
    /// type's name (autoref: `(&StateName(s)).state_name()`).
    #[allow(missing_debug_implementations)]
    pub struct StateName<'a, S>(pub &'a S);

    /// Used when the state is `Debug`.
    pub trait StateNameDebug {
        /// The variant's name.
        fn state_name(&self) -> String;
    }

    impl<S: core::fmt::Debug> StateNameDebug for StateName<'_, S> {
        fn state_name(&self) -> String {
            let text = format!("{:?}", self.0);
            let end = text
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(text.len());
            if end == 0 {
                text
            } else {
                text[..end].to_owned()
            }
        }
    }

    /// Used when the state is not `Debug`.
    pub trait StateNameOther {
        /// The state type's name.
        fn state_name(&self) -> String;
    }

    impl<S> StateNameOther for &StateName<'_, S> {
        fn state_name(&self) -> String {
            format!("a state of `{}`", core::any::type_name::<S>())
        }
    }

    /// Settings from `#[actor(...)]` on the struct, read by the `Actor` impl that
    /// `#[actor]` on the `impl` block generates.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` needs `#[actor]` on its definition",
        label = "`#[actor]` on the `impl` block needs the struct to be marked too",
        note = "write `#[actor]` above `struct {Self}` (it also generates the typed ref)"
    )]
    pub trait ActorOptions {
        /// `#[actor(mailbox = 64)]` / `#[actor(mailbox = unbounded)]`.
        fn mailbox() -> Option<MailboxConfig> {
            None
        }
        /// `#[actor(mailbox = MyMailbox)]` / `#[actor(mailbox = MyMailbox::new(..))]`.
        fn custom_mailbox() -> Option<Box<dyn Mailbox<<Self as Actor>::Msg>>>
        where
            Self: Actor,
        {
            None
        }
        /// `#[actor(throughput = ..)]`.
        fn throughput() -> Option<usize> {
            None
        }
        /// `#[supervise(..)]`.
        fn supervisor_strategy() -> Option<SupervisorStrategy> {
            None
        }
        /// `#[actor(stash = ..)]`.
        fn stash_capacity() -> Option<usize> {
            None
        }
    }

    /// `T::__BACTOR_PERSISTENT` for every type: `false`, unless the struct's `#[actor]`
    /// saw `#[persistent]` and defined an inherent const of that name, which takes
    /// precedence. Read by the impl block's `#[actor]`, which then requires `#[event]`
    /// methods; it compiles whether or not the struct is marked at all.
    pub trait NotPersistent {
        /// `false`: not marked `#[persistent]`.
        const __BACTOR_PERSISTENT: bool = false;
    }

    impl<T: ?Sized> NotPersistent for T {}

    /// The function of `#[persistent(upcast = path)]`, checked to be an [`Upcaster`]
    /// where the user wrote it.
    #[cfg(feature = "persist")]
    #[inline]
    pub fn upcaster(f: Upcaster) -> Upcaster {
        f
    }

    /// `queue`, boxed as the mailbox of actors whose messages are `M`: spanned on the
    /// user's `#[actor(mailbox = ..)]`, so a value that is not one is reported there.
    #[inline]
    pub fn boxed_mailbox<M, Q: Mailbox<M>>(queue: Q) -> Box<dyn Mailbox<M>> {
        Box::new(queue)
    }

    /// The state of an actor whose struct has no `#[actor(state = field)]`: `when` finds
    /// no variant in it (the error names this type: declare the state on the struct).
    #[derive(Debug)]
    pub struct StateNotDeclared;

    impl StateNotDeclared {
        /// The one value.
        pub const NONE: StateNotDeclared = StateNotDeclared;
    }

    /// The state type of actor `A`, for the patterns `when` generates.
    pub type StateOf<A> = <A as HasState>::State;

    /// Implements `serde::Serialize` and `Deserialize` for a generated ref when the `serde`
    /// feature is on, delegating to `ActorRef`.
    #[cfg(feature = "serde")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __bactor_ref_serde {
        ([$($gen:tt)*] $ty:ty, [$($where:tt)*]) => {
            #[automatically_derived]
            impl<$($gen)*> $crate::__private::serde::Serialize for $ty where $($where)* {
                fn serialize<__S: $crate::__private::serde::Serializer>(
                    &self,
                    serializer: __S,
                ) -> ::core::result::Result<__S::Ok, __S::Error> {
                    $crate::__private::serde::Serialize::serialize(&self.0, serializer)
                }
            }

            #[automatically_derived]
            impl<'__de, $($gen)*> $crate::__private::serde::Deserialize<'__de> for $ty where $($where)* {
                fn deserialize<__D: $crate::__private::serde::Deserializer<'__de>>(
                    deserializer: __D,
                ) -> ::core::result::Result<Self, __D::Error> {
                    ::core::result::Result::map(
                        $crate::__private::serde::Deserialize::deserialize(deserializer),
                        Self,
                    )
                }
            }
        };
    }

    /// Without the `serde` feature, refs are not serializable.
    #[cfg(not(feature = "serde"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __bactor_ref_serde {
        ($($t:tt)*) => {};
    }

    pub use crate::__bactor_ref_serde as ref_serde;

    /// The items `#[actor(remote)]` generates, when the `remote` feature is on.
    #[cfg(feature = "remote")]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __bactor_remote_items {
        ($($t:tt)*) => { $($t)* };
    }

    /// Without the `remote` feature, `#[actor(remote)]` is an error that says so.
    #[cfg(not(feature = "remote"))]
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __bactor_remote_items {
        ($($t:tt)*) => {
            ::core::compile_error!(
                "`#[actor(remote)]` needs the `remote` feature of bactor: `bactor = { version = \"..\", features = [\"remote\"] }`"
            );
        };
    }

    pub use crate::__bactor_remote_items as remote_items;

    /// What `#[actor(remote)]` code uses (feature `remote`).
    #[cfg(feature = "remote")]
    pub mod remote {
        pub use crate::remote::{
            Codec, CodecError, PendingReply, RemoteActor, RemoteStub, ReplyChannel, decode_args,
            encode_args,
        };

        pub use crate::remote::codec::{
            NotSerde, NotSerdeOwned, Probe, RemoteArg, ViaSerde, ViaSerdeOwned, assert_remote,
        };
    }

    #[cfg(any(feature = "serde", feature = "persist"))]
    pub use serde;

    #[cfg(feature = "persist")]
    pub use crate::persistence::{
        BadSnapshot, NoSnapshot, OnConflict, PersistConfig, PersistOptions, PersistentActor,
        SerdeSnapshot, SnapshotCodec, Snapshottable, StorableEvent, Upcaster, recover, send_reply,
    };
    #[cfg(feature = "persist")]
    pub use serde_json;
}
