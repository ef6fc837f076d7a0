//! Names the macros recognise: attributes, their keys, lifecycle hooks.
//!
//! Every parser matches keys against these constants and checks them through one helper
//! (`attr::Keys`), so a key unknown to an attribute, or given twice, is reported the same
//! way everywhere.

/// `#[handler]` on a method of an `#[actor]` impl.
pub(crate) const HANDLER: &str = "handler";
/// `#[event]` on a method of a persistent actor's impl.
pub(crate) const EVENT: &str = "event";
/// `#[supervise(...)]` on an actor struct or enum.
pub(crate) const SUPERVISE: &str = "supervise";
/// `#[persistent(...)]` on an actor struct.
pub(crate) const PERSISTENT: &str = "persistent";
/// `#[not_hook]`: a method whose name resembles a lifecycle hook's is a plain method.
pub(crate) const NOT_HOOK: &str = "not_hook";

/// Attribute keys, by name.
pub(crate) mod key {
    pub(crate) const MAILBOX: &str = "mailbox";
    pub(crate) const THROUGHPUT: &str = "throughput";
    pub(crate) const STATE: &str = "state";
    pub(crate) const OTHERWISE: &str = "otherwise";
    pub(crate) const STASH: &str = "stash";
    pub(crate) const CRATE: &str = "crate";
    pub(crate) const REMOTE: &str = "remote";

    pub(crate) const REPLY: &str = "reply";
    pub(crate) const FAIL_ON_ERROR: &str = "fail_on_error";
    pub(crate) const PRIORITY: &str = "priority";
    pub(crate) const WHEN: &str = "when";
    pub(crate) const ROUTE_KEY: &str = "route_key";

    pub(crate) const STRATEGY: &str = "strategy";
    pub(crate) const MAX_RESTARTS: &str = "max_restarts";
    pub(crate) const WITHIN: &str = "within";
    pub(crate) const BACKOFF: &str = "backoff";
    pub(crate) const DECIDE: &str = "decide";
    pub(crate) const MIN: &str = "min";
    pub(crate) const MAX: &str = "max";
    pub(crate) const JITTER: &str = "jitter";
    pub(crate) const RESET: &str = "reset";

    pub(crate) const SNAPSHOT_EVERY: &str = "snapshot_every";
    pub(crate) const KEEP_SNAPSHOTS: &str = "keep_snapshots";
    pub(crate) const BAD_SNAPSHOT: &str = "bad_snapshot";
    pub(crate) const ON_CONFLICT: &str = "on_conflict";
    pub(crate) const UPCAST: &str = "upcast";
    pub(crate) const TAG_WITH: &str = "tag_with";

    pub(crate) const NAME: &str = "name";
    pub(crate) const TAGS: &str = "tags";
}

use key::*;

/// Keys of `#[actor(...)]` on a struct or enum.
pub(crate) const ACTOR_TYPE_KEYS: &[&str] = &[MAILBOX, THROUGHPUT, STATE, OTHERWISE, STASH, CRATE];
/// Keys of `#[actor(...)]` on an impl block.
pub(crate) const ACTOR_IMPL_KEYS: &[&str] = &[REMOTE, CRATE];
/// Keys of `#[handler(...)]`.
pub(crate) const HANDLER_KEYS: &[&str] =
    &[REPLY, FAIL_ON_ERROR, PRIORITY, WHEN, OTHERWISE, ROUTE_KEY];
/// Keys of `#[supervise(...)]`.
pub(crate) const SUPERVISE_KEYS: &[&str] = &[STRATEGY, MAX_RESTARTS, WITHIN, BACKOFF, DECIDE];
/// Keys of `backoff = exponential(...)`.
pub(crate) const BACKOFF_KEYS: &[&str] = &[MIN, MAX, JITTER, RESET];
/// Keys of `#[persistent(...)]`.
pub(crate) const PERSISTENT_KEYS: &[&str] = &[
    SNAPSHOT_EVERY,
    KEEP_SNAPSHOTS,
    BAD_SNAPSHOT,
    ON_CONFLICT,
    UPCAST,
    TAG_WITH,
];
/// Keys of `#[event(...)]`.
pub(crate) const EVENT_KEYS: &[&str] = &[NAME, TAGS];

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
