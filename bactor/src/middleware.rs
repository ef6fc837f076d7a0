//! Middleware: layers around every handler invocation ([`ReceiveMiddleware`]) and every
//! send ([`SendMiddleware`]), as Proto.Actor's receiver and sender middleware.
//!
//! Layers are configured on [`Props`](crate::Props) (for one actor) and on the
//! [`ActorSystemBuilder`](crate::ActorSystemBuilder) (for every actor of the system). The
//! system's layers are outermost; within each list the first added is outermost: `before`
//! runs first to last, `after` last to first. An actor with no layer pays one branch per
//! message (measured in `benches/RESULTS.md`).
//!
//! A layer sees a message through [`Incoming`] / [`Outgoing`]: the actor, the message's
//! name (`Type::handler`), its [`Headers`](crate::Headers) and, typed, the message itself
//! ([`Incoming::message`], a downcast to the actor's message enum). `before` may refuse a message ([`Flow::Refuse`]): it is
//! not handled (or not sent), a dead letter is published, and its asker gets
//! [`Rejection::Refused`](crate::Rejection::Refused) with the reason.
//!
//! The `tracing` feature's spans stay built in (they need no configuration, and cost
//! nothing when the feature is off); [`Timing`] is a layer of the same kind, for handler
//! durations, and shows the shape for logging, metrics or authorisation layers.
//!
//! # Example
//!
//! ```
//! use bactor::middleware::{Flow, Incoming, ReceiveMiddleware};
//! use bactor::prelude::*;
//!
//! #[actor]
//! #[derive(Default)]
//! struct Vault {
//!     opened: u32,
//!     last_pin: u32,
//! }
//!
//! #[actor]
//! impl Vault {
//!     #[handler]
//!     fn open(&mut self, pin: u32) -> u32 {
//!         self.last_pin = pin;
//!         self.opened += 1;
//!         self.opened
//!     }
//! }
//!
//! /// Refuses `open` with a wrong pin before the handler runs.
//! struct CheckPin;
//!
//! impl ReceiveMiddleware for CheckPin {
//!     fn before(&self, msg: &Incoming<'_>) -> Flow {
//!         match msg.message::<VaultMsg>() {
//!             Some(VaultMsg::Open { pin, .. }) if *pin != 1234 => Flow::Refuse("wrong pin".into()),
//!             _ => Flow::Continue,
//!         }
//!     }
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = ActorSystem::new();
//! let vault = system
//!     .spawn_props(Props::from_producer(Vault::default).receive_middleware(CheckPin))
//!     .await?;
//! assert_eq!(vault.open(1234).await?, 1);
//! assert!(vault.open(1).await.is_err()); // refused: the handler did not run
//! assert_eq!(vault.open(1234).await?, 2);
//! # system.shutdown().await;
//! # Ok(()) }
//! ```

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::Pid;
use crate::error::ActorError;

/// What a layer's `before` decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on: the next layer, then the handler (or the send).
    Continue,
    /// Refuse the message, for this reason: it is not handled (or not sent).
    Refuse(String),
}

/// A message about to be handled, as receive middleware sees it.
pub struct Incoming<'a> {
    pub(crate) actor: Pid,
    pub(crate) actor_type: &'static str,
    pub(crate) name: &'static str,
    pub(crate) msg: &'a (dyn Any + Send),
    pub(crate) headers: &'a crate::Headers,
}

impl Incoming<'_> {
    /// The message's headers (see [`Headers`](crate::Headers)).
    pub fn headers(&self) -> &crate::Headers {
        self.headers
    }

    /// The actor that will handle it.
    pub fn actor(&self) -> Pid {
        self.actor
    }

    /// The actor's type name.
    pub fn actor_type(&self) -> &'static str {
        self.actor_type
    }

    /// The message's name (`Type::handler` for `#[actor]` messages).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The message itself, if it is an `M` (the actor's message type, e.g. `CounterMsg`).
    pub fn message<M: 'static>(&self) -> Option<&M> {
        self.msg.downcast_ref()
    }
}

impl fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("actor", &self.actor)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A message that was handled, as receive middleware sees it afterwards.
#[derive(Debug)]
pub struct Handled<'a> {
    /// The actor that handled it.
    pub actor: Pid,
    /// The actor's type name.
    pub actor_type: &'static str,
    /// The message's name.
    pub name: &'static str,
    /// The message's headers (see [`Headers`](crate::Headers)).
    pub headers: &'a crate::Headers,
    /// How the handler ended: `Err` is a failure of the actor (a panic, or an error that
    /// goes to its supervisor), not an `Err` reply.
    pub outcome: Result<(), &'a ActorError>,
    /// How long the handler ran, when a layer of the actor is
    /// [`timed`](ReceiveMiddleware::timed); zero otherwise.
    pub elapsed: Duration,
}

/// A layer around every handler invocation of the actors it is configured for.
pub trait ReceiveMiddleware: Send + Sync + 'static {
    /// Before the handler (and the inner layers). [`Flow::Refuse`] stops the message here.
    fn before(&self, msg: &Incoming<'_>) -> Flow {
        let _ = msg;
        Flow::Continue
    }

    /// After the handler, for every message whose `before` said [`Flow::Continue`]. A
    /// reply sent by the handler may reach its asker before `after` has run; the actor
    /// takes its next message only after it.
    fn after(&self, handled: &Handled<'_>) {
        let _ = handled;
    }

    /// `true` to have [`Handled::elapsed`] measured (two clock reads per message, about
    /// 40 ns here, for all layers of the actor); otherwise it is zero. Asked once, at
    /// spawn.
    fn timed(&self) -> bool {
        false
    }
}

/// A message about to be sent, as send middleware sees it.
pub struct Outgoing<'a> {
    pub(crate) target: Pid,
    pub(crate) name: &'static str,
    pub(crate) msg: &'a (dyn Any + Send),
    pub(crate) headers: &'a crate::Headers,
}

impl Outgoing<'_> {
    /// The headers it is sent with (see [`Headers`](crate::Headers)).
    pub fn headers(&self) -> &crate::Headers {
        self.headers
    }

    /// The actor it is for.
    pub fn target(&self) -> Pid {
        self.target
    }

    /// The message's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The message itself, if it is an `M`.
    pub fn message<M: 'static>(&self) -> Option<&M> {
        self.msg.downcast_ref()
    }
}

impl fmt::Debug for Outgoing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("target", &self.target)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A layer around every send to the actors it is configured for: every tell, try_tell
/// and ask through any of their refs, on the sender's task, before the message is queued.
/// A refused tell is handed back as [`TellError::Refused`](crate::TellError::Refused).
pub trait SendMiddleware: Send + Sync + 'static {
    /// Before the message is queued. [`Flow::Refuse`] keeps it out of the mailbox.
    fn before_send(&self, msg: &Outgoing<'_>) -> Flow;

    /// Headers to send the message with, after [`before_send`](Self::before_send) let it
    /// through: set or remove them on `headers`, which holds the ones it was sent with
    /// (and those the outer layers added; the inner layers and the handler see the
    /// result). A trace id or the sender's identity, stamped on every message to these
    /// actors. By default, none are added. A message that ends up with headers is boxed
    /// with them, as one sent with headers is.
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::middleware::{Flow, Outgoing, SendMiddleware};
    /// use bactor::prelude::*;
    ///
    /// /// Every message gets a `trace` header if it has none.
    /// struct Stamp;
    ///
    /// impl SendMiddleware for Stamp {
    ///     fn before_send(&self, _: &Outgoing<'_>) -> Flow {
    ///         Flow::Continue
    ///     }
    ///
    ///     fn add_headers(&self, _: &Outgoing<'_>, headers: &mut Headers) {
    ///         if headers.get("trace").is_none() {
    ///             headers.insert("trace", "t-1");
    ///         }
    ///     }
    /// }
    ///
    /// #[actor]
    /// #[derive(Default)]
    /// struct Echo;
    ///
    /// #[actor]
    /// impl Echo {
    ///     #[handler]
    ///     fn trace(&self, ctx: &mut Context<Self>) -> Option<String> {
    ///         ctx.headers().get("trace").map(str::to_owned)
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::builder().send_middleware(Stamp).build();
    /// let echo = system.spawn(Echo::default).await?;
    /// assert_eq!(echo.trace().await?.as_deref(), Some("t-1"));
    /// let traced = echo.with_headers(Headers::new().with("trace", "mine"));
    /// assert_eq!(traced.trace().await?.as_deref(), Some("mine"));
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    fn add_headers(&self, msg: &Outgoing<'_>, headers: &mut crate::Headers) {
        let _ = (msg, headers);
    }
}

/// Layers being configured (on a builder): shown by their count.
pub(crate) struct LayerList<T: ?Sized>(pub(crate) Vec<Arc<T>>);

impl<T: ?Sized> Default for LayerList<T> {
    fn default() -> Self {
        LayerList(Vec::new())
    }
}

impl<T: ?Sized> Clone for LayerList<T> {
    fn clone(&self) -> Self {
        LayerList(self.0.clone())
    }
}

impl<T: ?Sized> fmt::Debug for LayerList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} layer(s)", self.0.len())
    }
}

/// The receive layers of one actor, outermost first, and whether any is timed; `None`
/// when it has none (boxed: one word in every actor's task).
pub(crate) type ReceiveLayers = Option<Box<(Arc<[Arc<dyn ReceiveMiddleware>]>, bool)>>;
/// The send layers of one actor, outermost first; `None` when it has none.
pub(crate) type SendLayers = Option<Arc<[Arc<dyn SendMiddleware>]>>;

/// The layers of the system, then the actor's own; `None` when both are empty.
pub(crate) fn combine<T: ?Sized>(system: &[Arc<T>], own: &[Arc<T>]) -> Option<Arc<[Arc<T>]>> {
    if system.is_empty() && own.is_empty() {
        return None;
    }
    Some(system.iter().chain(own).cloned().collect())
}

/// Runs the `before` of every layer, outermost first; the reason of the first refusal.
/// (`after` runs only for messages that reached the handler.)
pub(crate) fn before_all(
    layers: &[Arc<dyn ReceiveMiddleware>],
    msg: &Incoming<'_>,
) -> Option<String> {
    for layer in layers {
        if let Flow::Refuse(reason) = layer.before(msg) {
            return Some(reason);
        }
    }
    None
}

/// Records how long handlers run, per message name. A layer of the same shape as the
/// built-in `tracing` spans; [`Timing::take`] returns what it measured so far.
///
/// ```
/// use bactor::middleware::Timing;
/// use bactor::prelude::*;
/// use std::sync::Arc;
///
/// #[actor]
/// #[derive(Default)]
/// struct Echo;
///
/// #[actor]
/// impl Echo {
///     #[handler]
///     fn echo(&self, n: u32) -> u32 {
///         n
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let timing = Arc::new(Timing::default());
/// let system = ActorSystem::builder().receive_middleware(Arc::clone(&timing)).build();
/// let echo = system.spawn(Echo::default).await?;
/// echo.echo(1).await?;
/// echo.echo(2).await?;
/// // `after` runs once the handler returned, which may be just after its reply arrived:
/// // the third ask is a barrier for the first two.
/// echo.echo(3).await?;
/// assert!(timing.take().iter().filter(|(name, _)| *name == "Echo::echo").count() >= 2);
/// # system.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Timing {
    seen: std::sync::Mutex<Vec<(&'static str, Duration)>>,
}

impl Timing {
    /// The `(message name, handler time)` pairs measured since the last call.
    pub fn take(&self) -> Vec<(&'static str, Duration)> {
        std::mem::take(
            &mut *self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl ReceiveMiddleware for Timing {
    fn timed(&self) -> bool {
        true
    }

    fn after(&self, handled: &Handled<'_>) {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((handled.name, handled.elapsed));
    }
}

impl<T: ReceiveMiddleware + ?Sized> ReceiveMiddleware for Arc<T> {
    fn before(&self, msg: &Incoming<'_>) -> Flow {
        (**self).before(msg)
    }

    fn after(&self, handled: &Handled<'_>) {
        (**self).after(handled);
    }

    fn timed(&self) -> bool {
        (**self).timed()
    }
}

impl<T: SendMiddleware + ?Sized> SendMiddleware for Arc<T> {
    fn before_send(&self, msg: &Outgoing<'_>) -> Flow {
        (**self).before_send(msg)
    }

    fn add_headers(&self, msg: &Outgoing<'_>, headers: &mut crate::Headers) {
        (**self).add_headers(msg, headers);
    }
}
