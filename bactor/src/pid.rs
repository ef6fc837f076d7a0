//! Process identifiers.
//!
//! A [`Pid`] names one actor for its whole life. It has three parts:
//!
//! - `node`: the node the actor lives on (`0` for the local node until remoting assigns ids);
//! - `id`: a number unique within one running [`ActorSystem`](crate::ActorSystem);
//! - `incarnation`: a random number drawn when the system starts. Ids restart at 1 in every
//!   process, so the incarnation is what keeps a `Pid` saved by an earlier run of the same
//!   node from ever reaching an actor of this run.
//!
//! A restart under supervision keeps the `Pid`; only a new spawn gets a new one.

use std::fmt;

/// The identity of one actor: `node`, `id` and `incarnation`.
///
/// `Pid`s are cheap to copy, compare and hash, and print as `node/id#incarnation`.
///
/// # Example
///
/// ```
/// use bactor::Pid;
///
/// let pid = Pid::new(0, 7, 42);
/// assert_eq!(pid.id(), 7);
/// assert_eq!(pid.to_string(), "0/7#42");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pid {
    node: u64,
    id: u64,
    incarnation: u64,
}

impl Pid {
    /// Builds a `Pid` from its parts. Useful in tests and for wire formats; a `Pid` built by
    /// hand reaches an actor only if one with exactly these parts is alive.
    pub const fn new(node: u64, id: u64, incarnation: u64) -> Self {
        Pid {
            node,
            id,
            incarnation,
        }
    }

    /// The node the actor lives on.
    pub const fn node(&self) -> u64 {
        self.node
    }

    /// The actor's number, unique within its system.
    pub const fn id(&self) -> u64 {
        self.id
    }

    /// The incarnation of the system that spawned the actor.
    pub const fn incarnation(&self) -> u64 {
        self.incarnation
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}#{}", self.node, self.id, self.incarnation)
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pid({self})")
    }
}
