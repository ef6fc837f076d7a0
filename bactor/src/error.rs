//! Error types of the runtime.
//!
//! Each error is small and says which call returns it. Errors that carry an undelivered
//! message hand it back ([`TellError::into_message`]) so nothing is lost.

use std::any::Any;
use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;

/// Why an ask did not produce a reply.
///
/// Returned by awaiting a request (`counter.add(5).await`), by [`ActorRef::ask`] and by
/// timed requests. The type parameter is the error type of handlers that return
/// `Result<T, E>`: their `Err(e)` arrives as [`AskError::Handler`]. Plain handlers use the
/// default, `Infallible`.
///
/// [`ActorRef::ask`]: crate::ActorRef::ask
///
/// # Example
///
/// ```
/// use bactor::AskError;
///
/// let e: AskError = AskError::Timeout;
/// assert_eq!(e.to_string(), "ask timed out");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AskError<E = Infallible> {
    /// The actor was not running when the request was sent (stopped, or never existed).
    Dead,
    /// The actor took the request but stopped before replying (or dropped the reply slot).
    NoReply,
    /// The actor failed while handling the request: the handler panicked, or a
    /// `#[handler(fail_on_error)]` handler returned `Err` (which went to the supervisor).
    Failed,
    /// No reply arrived within the timeout given to `.timeout(..)`.
    Timeout,
    /// The handler replied with `Err(e)`.
    Handler(E),
    /// The request to an actor on another node (feature `remote`) could not be carried
    /// there, or that node could not take it.
    Remote(RemoteFailure),
    /// The actor refused the request without handling it: its handler does not serve the
    /// actor's current state (`#[handler(when = ..)]`), or it was to be stashed and the
    /// stash was full.
    Rejected(Rejection),
}

/// Why an actor refused a request without handling it ([`AskError::Rejected`]).
///
/// # Example
///
/// ```
/// use bactor::{AskError, Rejection};
///
/// let e: AskError = AskError::Rejected(Rejection::NotServed {
///     message: "Connection::send",
///     state: "Disconnected".into(),
/// });
/// assert_eq!(e.to_string(), "`Connection::send` is not served in state `Disconnected`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The message's handler does not serve the actor's current state, and the handler
    /// (or the actor) says `otherwise = reject`.
    NotServed {
        /// The message (`Type::handler`).
        message: &'static str,
        /// The actor's state when the message arrived (its variant name).
        state: String,
    },
    /// Middleware refused the message ([`Flow::Refuse`](crate::middleware::Flow::Refuse)).
    Refused {
        /// The message (`Type::handler`).
        message: &'static str,
        /// The middleware's reason.
        reason: String,
    },
    /// The message was to be stashed, and the stash already held `capacity` messages.
    StashFull {
        /// The message (`Type::handler`).
        message: &'static str,
        /// The stash's capacity.
        capacity: usize,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotServed { message, state } => {
                write!(f, "`{message}` is not served in state `{state}`")
            }
            Rejection::Refused { message, reason } => {
                write!(f, "`{message}` was refused: {reason}")
            }
            Rejection::StashFull { message, capacity } => write!(
                f,
                "`{message}` could not be stashed: the stash is full ({capacity} messages)"
            ),
        }
    }
}

impl StdError for Rejection {}

/// Why a request to an actor on another node failed on the way (feature `remote`).
///
/// # Example
///
/// ```
/// use bactor::{AskError, RemoteFailure};
///
/// let e: AskError = AskError::Remote(RemoteFailure::NodeDown("10.0.0.7:4000".into()));
/// assert_eq!(e.to_string(), "node 10.0.0.7:4000 is down");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteFailure {
    /// The node at this address is down: unreachable for longer than its down timeout,
    /// or it came back as a new run.
    NodeDown(String),
    /// The connection to the node broke with the request still queued here (it is
    /// dialled again; later requests may get through).
    Unreachable {
        /// The node's address.
        node: String,
        /// What happened.
        reason: String,
    },
    /// The encoded message is larger than the receiving node accepts in one frame.
    TooLarge {
        /// Its size in bytes, as a frame of its own.
        size: usize,
        /// The receiver's frame limit.
        limit: usize,
    },
    /// Too many messages are queued for that node already.
    Overloaded(String),
    /// The message, or its reply, could not be encoded or decoded (the reason says which
    /// and why), or the receiving node does not know the method (another version of the
    /// actor).
    Codec(String),
}

impl fmt::Display for RemoteFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteFailure::NodeDown(node) => write!(f, "node {node} is down"),
            RemoteFailure::Unreachable { node, reason } => {
                write!(f, "node {node} unreachable: {reason}")
            }
            RemoteFailure::TooLarge { size, limit } => write!(
                f,
                "a message of {size} bytes is over the receiving node's frame limit of {limit}"
            ),
            RemoteFailure::Overloaded(node) => {
                write!(f, "too many messages are queued for node {node}")
            }
            RemoteFailure::Codec(reason) => f.write_str(reason),
        }
    }
}

impl StdError for RemoteFailure {}

impl AskError<Infallible> {
    /// Converts a runtime-side error into the error type of a fallible handler.
    pub fn widen<E>(self) -> AskError<E> {
        match self {
            AskError::Dead => AskError::Dead,
            AskError::NoReply => AskError::NoReply,
            AskError::Failed => AskError::Failed,
            AskError::Timeout => AskError::Timeout,
            AskError::Remote(e) => AskError::Remote(e),
            AskError::Rejected(r) => AskError::Rejected(r),
            AskError::Handler(never) => match never {},
        }
    }
}

impl<E> AskError<E> {
    /// The handler's own error, if that is what this is.
    pub fn handler_error(self) -> Option<E> {
        match self {
            AskError::Handler(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for AskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskError::Dead => f.write_str("actor is not running"),
            AskError::NoReply => f.write_str("actor stopped before replying"),
            AskError::Failed => f.write_str("actor failed while handling the request"),
            AskError::Timeout => f.write_str("ask timed out"),
            AskError::Handler(e) => write!(f, "handler returned an error: {e}"),
            AskError::Remote(e) => fmt::Display::fmt(e, f),
            AskError::Rejected(r) => fmt::Display::fmt(r, f),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for AskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskError::Dead => f.write_str("Dead"),
            AskError::NoReply => f.write_str("NoReply"),
            AskError::Failed => f.write_str("Failed"),
            AskError::Timeout => f.write_str("Timeout"),
            AskError::Handler(e) => f.debug_tuple("Handler").field(e).finish(),
            AskError::Remote(e) => f.debug_tuple("Remote").field(e).finish(),
            AskError::Rejected(r) => f.debug_tuple("Rejected").field(r).finish(),
        }
    }
}

impl<E: StdError + 'static> StdError for AskError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            AskError::Handler(e) => Some(e),
            _ => None,
        }
    }
}

/// A message that could not be put in a mailbox; the message is handed back.
///
/// Returned by `.tell()` (only [`TellError::Dead`]) and `.try_tell()` (either variant).
///
/// # Example
///
/// ```
/// use bactor::TellError;
///
/// let e = TellError::Full(5_u32);
/// assert!(e.is_full());
/// assert_eq!(e.into_message(), 5);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TellError<M> {
    /// The actor is not running.
    Dead(M),
    /// The actor's bounded mailbox has no room right now (only from `try_tell`).
    Full(M),
    /// Send middleware refused the message (see [`middleware`](crate::middleware)); the
    /// rejection says why.
    Refused(M, Rejection),
}

impl<M> TellError<M> {
    /// Gives the undelivered message back.
    pub fn into_message(self) -> M {
        match self {
            TellError::Dead(m) | TellError::Full(m) | TellError::Refused(m, _) => m,
        }
    }

    /// `true` for [`TellError::Full`].
    pub fn is_full(&self) -> bool {
        matches!(self, TellError::Full(_))
    }

    /// `true` for [`TellError::Dead`].
    pub fn is_dead(&self) -> bool {
        matches!(self, TellError::Dead(_))
    }

    /// Maps the carried message.
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> TellError<N> {
        match self {
            TellError::Dead(m) => TellError::Dead(f(m)),
            TellError::Full(m) => TellError::Full(f(m)),
            TellError::Refused(m, r) => TellError::Refused(f(m), r),
        }
    }
}

impl<M> fmt::Display for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TellError::Dead(_) => f.write_str("actor is not running"),
            TellError::Full(_) => f.write_str("mailbox full"),
            TellError::Refused(_, r) => fmt::Display::fmt(r, f),
        }
    }
}

impl<M> fmt::Debug for TellError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The message may not be `Debug`; the variant is what matters.
        match self {
            TellError::Dead(_) => f.debug_tuple("Dead").finish_non_exhaustive(),
            TellError::Full(_) => f.debug_tuple("Full").finish_non_exhaustive(),
            TellError::Refused(_, r) => f.debug_tuple("Refused").field(r).finish_non_exhaustive(),
        }
    }
}

impl<M> StdError for TellError<M> {}

/// Why a spawn failed.
///
/// Returned by [`ActorSystem::spawn`](crate::ActorSystem::spawn) and its siblings, and by
/// [`Context::spawn_child`](crate::Context::spawn_child).
///
/// # Example
///
/// ```
/// use bactor::SpawnError;
///
/// let e = SpawnError::NameTaken("db".into());
/// assert_eq!(e.to_string(), "an actor named `db` is already running");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// Another live actor already has this name.
    NameTaken(String),
    /// The system is shutting down and takes no new actors.
    ShuttingDown,
    /// The parent is stopping and takes no new children.
    ParentStopping,
    /// A persistent actor was spawned on a system built without an event store
    /// (`ActorSystem::builder().persistence(..)`).
    NoEventStore,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NameTaken(n) => write!(f, "an actor named `{n}` is already running"),
            SpawnError::ShuttingDown => f.write_str("actor system is shutting down"),
            SpawnError::ParentStopping => f.write_str("parent actor is stopping"),
            SpawnError::NoEventStore => f.write_str(
                "persistent actor needs an event store: ActorSystem::builder().persistence(..)",
            ),
        }
    }
}

/// Why [`ActorSystem::spawn_started`](crate::ActorSystem::spawn_started) returned no
/// actor.
///
/// # Example
///
/// ```
/// use bactor::{ActorError, StartError};
/// use std::sync::Arc;
///
/// let e = StartError::Failed(Arc::new(ActorError::msg("no database")));
/// assert_eq!(e.to_string(), "the actor failed to start: no database");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum StartError {
    /// The actor could not be spawned.
    Spawn(SpawnError),
    /// Its start failed (the producer panicked, recovery failed, or `pre_start` returned
    /// an error or panicked); the actor was stopped.
    Failed(std::sync::Arc<ActorError>),
    /// The actor stopped before its start finished.
    Stopped,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spawn(e) => write!(f, "cannot spawn: {e}"),
            StartError::Failed(e) => write!(f, "the actor failed to start: {e}"),
            StartError::Stopped => f.write_str("the actor stopped before it started"),
        }
    }
}

impl fmt::Debug for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Spawn(e) => Some(e),
            StartError::Failed(e) => e
                .source_error()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            StartError::Stopped => None,
        }
    }
}

/// What [`ActorSystem::shutdown_within`](crate::ActorSystem::shutdown_within) returns
/// when its timeout passed with actors still running (each stuck in a handler): they
/// have been told to stop, and stop when their handler returns.
///
/// # Example
///
/// ```
/// use bactor::ShutdownTimedOut;
/// use std::time::Duration;
///
/// let e = ShutdownTimedOut { timeout: Duration::from_secs(1), still_running: vec![] };
/// assert_eq!(e.to_string(), "shutdown timed out after 1s; still running: none");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownTimedOut {
    /// The timeout that passed.
    pub timeout: std::time::Duration,
    /// The actors still running, with their type names, oldest first.
    pub still_running: Vec<(crate::Pid, &'static str)>,
}

impl fmt::Display for ShutdownTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shutdown timed out after {:?}; still running: ",
            self.timeout
        )?;
        if self.still_running.is_empty() {
            return f.write_str("none");
        }
        for (i, (pid, ty)) in self.still_running.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{pid} ({ty})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ShutdownTimedOut {}

impl fmt::Debug for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StdError for SpawnError {}

/// Why a lookup by name found no actor of the wanted type.
///
/// Returned by [`ActorSystem::lookup`](crate::ActorSystem::lookup).
///
/// # Example
///
/// ```
/// use bactor::LookupError;
///
/// let e = LookupError::NotFound("db".into());
/// assert_eq!(e.to_string(), "no actor named `db`");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupError {
    /// No live actor has this name.
    NotFound(String),
    /// An actor has this name but is of another type.
    WrongType {
        /// The name looked up.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The type of the actor that has the name.
        found: &'static str,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NotFound(n) => write!(f, "no actor named `{n}`"),
            LookupError::WrongType {
                name,
                expected,
                found,
            } => write!(f, "actor `{name}` is a `{found}`, not a `{expected}`"),
        }
    }
}

impl fmt::Debug for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StdError for LookupError {}

/// A failure inside an actor: an error returned by a lifecycle hook, or a panic.
///
/// Any `std::error::Error + Send + Sync` converts into it with `?`, and
/// [`ActorError::msg`] makes one from text. Like `anyhow::Error`, it does not itself
/// implement `std::error::Error`, which is what makes that blanket conversion possible.
///
/// # Example
///
/// ```
/// use bactor::ActorError;
///
/// fn open() -> Result<(), ActorError> {
///     let _n: u32 = "12".parse()?; // ParseIntError converts
///     Err(ActorError::msg("disk full"))
/// }
/// assert_eq!(open().unwrap_err().to_string(), "disk full");
/// ```
pub struct ActorError {
    kind: ErrorKind,
}

enum ErrorKind {
    Message(String),
    Error(Box<dyn StdError + Send + Sync>),
    Panic(String),
    Escalated {
        child: crate::Pid,
        cause: std::sync::Arc<ActorError>,
    },
}

impl ActorError {
    /// An error with this text.
    pub fn msg(text: impl fmt::Display) -> Self {
        ActorError {
            kind: ErrorKind::Message(text.to_string()),
        }
    }

    /// Wraps a caught panic payload.
    pub fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        let text = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_owned()
        };
        // Where it happened, when the quiet panic hook kept the default one from saying so.
        let text = match crate::panics::take_location() {
            Some(location) => format!("{text} at {location}"),
            None => text,
        };
        ActorError {
            kind: ErrorKind::Panic(text),
        }
    }

    /// The failure of a supervisor that escalated its child's failure.
    pub(crate) fn escalated(child: crate::Pid, cause: std::sync::Arc<ActorError>) -> Self {
        ActorError {
            kind: ErrorKind::Escalated { child, cause },
        }
    }

    /// `true` when this error is a caught panic (looking through escalations).
    pub fn is_panic(&self) -> bool {
        match &self.kind {
            ErrorKind::Panic(_) => true,
            ErrorKind::Escalated { cause, .. } => cause.is_panic(),
            _ => false,
        }
    }

    /// For a supervisor that failed because it escalated a child's failure: that child and
    /// its failure.
    pub fn escalated_from(&self) -> Option<(crate::Pid, &ActorError)> {
        match &self.kind {
            ErrorKind::Escalated { child, cause } => Some((*child, cause)),
            _ => None,
        }
    }

    /// The wrapped error, when this was built from one (looking through escalations).
    pub fn source_error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        match &self.kind {
            ErrorKind::Error(e) => Some(&**e),
            ErrorKind::Escalated { cause, .. } => cause.source_error(),
            _ => None,
        }
    }

    /// Returns the wrapped error if it is an `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.source_error()?.downcast_ref::<E>()
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for ActorError {
    fn from(e: E) -> Self {
        ActorError {
            kind: ErrorKind::Error(Box::new(e)),
        }
    }
}

impl fmt::Display for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Message(m) => f.write_str(m),
            ErrorKind::Error(e) => fmt::Display::fmt(e, f),
            ErrorKind::Panic(m) => write!(f, "panicked: {m}"),
            ErrorKind::Escalated { child, cause } => write!(f, "child {child} failed: {cause}"),
        }
    }
}

impl fmt::Debug for ActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Message(m) => f.debug_tuple("ActorError").field(m).finish(),
            ErrorKind::Error(e) => f.debug_tuple("ActorError").field(e).finish(),
            ErrorKind::Panic(m) => f.debug_tuple("Panic").field(m).finish(),
            ErrorKind::Escalated { child, cause } => f
                .debug_struct("Escalated")
                .field("child", child)
                .field("cause", cause)
                .finish(),
        }
    }
}

/// Why an actor stopped. Carried by [`SystemEvent::ActorStopped`](crate::SystemEvent) and
/// handed to the `on_terminated` hook of its watchers and parent.
///
/// # Example
///
/// ```
/// use bactor::StopReason;
///
/// assert!(StopReason::Stopped.is_normal());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StopReason {
    /// Stopped on request (`stop`, `stop_gracefully`, `ctx.stop()`, shutdown, parent stop).
    Stopped,
    /// Stopped because it failed and its supervisor stopped it (or had no restart left).
    Failed(std::sync::Arc<ActorError>),
    /// Only in a watcher's notice: the watched pid was not alive when the watch arrived.
    NotFound,
    /// Only in a watcher's notice (feature `remote`): the node the watched actor lived on,
    /// at this address, is down, or came back as a new run (which ended the old one's
    /// actors).
    NodeDown(String),
}

impl StopReason {
    /// `true` for [`StopReason::Stopped`].
    pub fn is_normal(&self) -> bool {
        matches!(self, StopReason::Stopped)
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Stopped => f.write_str("stopped"),
            StopReason::Failed(e) => write!(f, "failed: {e}"),
            StopReason::NotFound => f.write_str("not found"),
            StopReason::NodeDown(node) => write!(f, "node {node} is down"),
        }
    }
}
