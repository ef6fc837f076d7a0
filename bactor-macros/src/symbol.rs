//! Names the macros recognise.

/// `#[handler]` on a method of an `#[actor]` impl.
pub(crate) const HANDLER: &str = "handler";

/// `#[supervise(...)]` on an actor struct or enum.
pub(crate) const SUPERVISE: &str = "supervise";

/// Methods of `ActorRef` (reached through `Deref`) and of common traits that a generated
/// ref method of the same name would shadow.
pub(crate) const RESERVED_REF_METHODS: &[&str] = &[
    "pid",
    "is_alive",
    "tell",
    "try_tell",
    "ask",
    "stop",
    "stop_gracefully",
    "stopped",
    "typed",
    "clone",
    "into",
    "deref",
    "fmt",
    "eq",
    "hash",
];

/// Keys of `#[actor(...)]` on a struct or enum.
pub(crate) const STRUCT_KEYS: &str =
    "`mailbox`, `throughput`, `state`, `otherwise`, `stash`, `crate`";
/// Keys of `#[actor(...)]` on an impl block.
pub(crate) const IMPL_KEYS: &str = "`remote`, `crate`";
/// Keys of `#[handler(...)]`.
pub(crate) const HANDLER_KEYS: &str =
    "`reply`, `fail_on_error`, `priority`, `when`, `otherwise`, `route_key`";
/// Keys of `#[supervise(...)]`.
pub(crate) const SUPERVISE_KEYS: &str = "`strategy`, `max_restarts`, `within`, `backoff`, `decide`";
