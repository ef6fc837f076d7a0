#![doc = include_str!("../../README.md")]
#![warn(missing_docs)]
#![doc(test(no_crate_inject, attr(deny(warnings))))]

mod actor;
mod actor_ref;
mod cell;
mod context;
mod error;
mod events;
mod mailbox;
mod pid;
mod props;
mod request;
mod system;

pub use actor::Actor;
pub use actor_ref::{ActorRef, ReplyTo};
pub use context::{Context, TimerHandle};
pub use error::{ActorError, AskError, LookupError, SpawnError, StopReason, TellError};
pub use events::{DeadLetter, EventStream, Subscription, SystemEvent};
pub use mailbox::{MailboxConfig, DEFAULT_THROUGHPUT};
pub use pid::Pid;
pub use props::{FnActor, FuncActor, Props, StateActor};
pub use request::{Ask, Fallible, Plain, ReplyShape, Request, Timed, TimedAsk};
pub use system::{ActorSystem, ActorSystemBuilder};

pub use bactor_macros::{actor, handler};

/// Everything an actor program usually needs: `use bactor::prelude::*;`.
pub mod prelude {
    pub use crate::{
        actor, handler, Actor, ActorError, ActorRef, ActorSystem, AskError, Context, FuncActor,
        MailboxConfig, Pid, Props, ReplyTo, SpawnError, StopReason, SystemEvent, TellError,
    };
}

/// Not public API; used by bactor-macros.
#[doc(hidden)]
pub mod __private {
    pub use crate::actor::Actor;
    pub use crate::actor_ref::{ActorRef, ReplyTo};
    pub use crate::context::Context;
    pub use crate::error::ActorError;
    pub use crate::mailbox::MailboxConfig;
    pub use crate::request::{Fallible, Plain, Request};

    /// Settings from `#[actor(...)]` on the struct, read by the `Actor` impl that
    /// `#[actor]` on the `impl` block generates.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` needs `#[actor]` on its definition",
        label = "`#[actor]` on the `impl` block needs the struct to be marked too",
        note = "write `#[actor]` above `struct {Self}` (it also generates the typed ref)"
    )]
    pub trait ActorOptions {
        /// `#[actor(mailbox = ..)]`.
        fn mailbox() -> Option<MailboxConfig> {
            None
        }
        /// `#[actor(throughput = ..)]`.
        fn throughput() -> Option<usize> {
            None
        }
    }

    /// Implements `serde::Serialize` for a generated ref when the `serde` feature is on.
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

    #[cfg(feature = "serde")]
    pub use serde;
}
