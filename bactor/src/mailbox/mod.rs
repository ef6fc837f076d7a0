//! Mailboxes.
//!
//! Every actor has two lanes:
//!
//! - the **system lane** (stop, child terminated, supervision and watch messages),
//!   unbounded and always served before the user lane: a `stop()` overtakes whatever user
//!   messages are queued. No mailbox kind changes that;
//! - the **user lane**, carrying the actor's own message type by value. Its queue is the
//!   actor's *mailbox kind*:
//!   - **bounded** (the default, [`MailboxConfig::Bounded`], 1,024 messages): on a full
//!     lane `tell` waits for room (back-pressure) and `try_tell` hands the message back in
//!     [`TellError::Full`]. Nothing is dropped silently;
//!   - **unbounded** ([`MailboxConfig::Unbounded`]): `tell` never waits;
//!   - **priority** ([`PriorityMailbox`]): chosen for every actor with a
//!     `#[handler(priority = high | normal | low)]`, its size taken from the bounded or
//!     unbounded setting. Higher [`Priority`] levels first, arrival order within a level;
//!   - **your own**: any type implementing [`Mailbox`], chosen per actor type with
//!     `#[actor(mailbox = MyMailbox)]` (a type made with `Default`) or
//!     `#[actor(mailbox = MyMailbox::new(8))]` (an expression evaluated at each spawn), or
//!     per spawn with [`Props::mailbox_with`](crate::Props::mailbox_with).
//!
//! A [`Mailbox`] only keeps messages in the order it chooses. The runtime around it does
//! the rest, the same for every kind: it wakes the actor after a push, serves the system
//! lane first, makes a `tell` wait while the queue says it is [`Push::Full`] (a
//! `try_tell` gets `TellError::Full`), publishes the messages a queue drops
//! ([`Push::Dropped`]) as dead letters (their askers get an error, never a hang), and
//! refuses pushes (handing the message back as dead) once the actor stops. The actor takes
//! one message at a time out of a `Mailbox`, right before handling it, so a queue can
//! still reorder, coalesce or drop a message until then.
//!
//! The bounded and unbounded kinds are bactor's own channel (many senders, one receiver,
//! blocks of 32 slots): a tell is one compare-and-swap and a store, with no lock and no
//! allocation, and wakes the actor only when it sleeps. They keep a path of their own
//! rather than going through the trait, whose `pop` takes `&self` and so needs a lock (or
//! a multi-consumer queue) per actor; `benches/RESULTS.md` measures each kind against a
//! raw tokio channel.
//!
//! Messages from one sender to one actor are processed in the order they were sent (within
//! one priority level, for the priority kind; in the order a custom queue chooses, for
//! yours).
//!
//! No lane allocates before its first message: an actor that is never sent anything costs
//! its task and its ref (under 1 KB resident in all, `benches/RESULTS.md`).
//!
//! The actor takes user messages one at a time, right before handling each, and yields to
//! the scheduler after `throughput` of them (default 300), so one busy actor cannot
//! starve the others on its thread. Before each message it checks the system lane. A
//! message being handled no longer counts against the bound. A `tell` waiting for room
//! in a full bounded mailbox is woken once the mailbox is half empty (or empty), so that
//! it goes on with many messages per wake-up; `try_tell` sees every free slot at once.
//!
//! # Example
//!
//! A queue that keeps only the newest messages (the dropped ones become dead letters):
//!
//! ```
//! use std::collections::VecDeque;
//! use std::sync::Mutex;
//!
//! use bactor::mailbox::{Envelope, Mailbox, Push};
//!
//! struct Newest<M> {
//!     keep: usize,
//!     queue: Mutex<VecDeque<Envelope<M>>>,
//! }
//!
//! impl<M: Send + 'static> Mailbox<M> for Newest<M> {
//!     fn push(&self, envelope: Envelope<M>) -> Push<M> {
//!         let mut queue = self.queue.lock().unwrap();
//!         queue.push_back(envelope);
//!         match queue.len() > self.keep {
//!             true => Push::Dropped(queue.pop_front().unwrap()),
//!             false => Push::Queued,
//!         }
//!     }
//!
//!     fn pop(&self) -> Option<Envelope<M>> {
//!         self.queue.lock().unwrap().pop_front()
//!     }
//!
//!     fn len(&self) -> usize {
//!         self.queue.lock().unwrap().len()
//!     }
//! }
//!
//! let newest = Newest { keep: 2, queue: Mutex::new(VecDeque::new()) };
//! for n in 1..=3 {
//!     newest.push(Envelope::new(n));
//! }
//! assert_eq!(newest.pop().map(Envelope::into_message), Some(2));
//! ```
//!
//! `examples/custom_mailbox.rs` runs a dropping-oldest and a per-key coalescing mailbox
//! inside actors.

mod chan;
mod channel;
mod priority;
mod queue;

use std::fmt;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

pub use priority::PriorityMailbox;
pub(crate) use queue::DeadLetters;

use crate::Headers;
use crate::error::TellError;

/// How big an actor's user lane is: the bounded or unbounded kind, and the bound of the
/// priority kind.
///
/// Set per actor type with `#[actor(mailbox = 64)]` / `#[actor(mailbox = unbounded)]`, per
/// spawn with [`Props::mailbox`](crate::Props::mailbox), or for the whole system with
/// [`ActorSystemBuilder::mailbox`](crate::ActorSystemBuilder::mailbox).
///
/// # Example
///
/// ```
/// use bactor::MailboxConfig;
///
/// assert_eq!(MailboxConfig::default(), MailboxConfig::Bounded(1024));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxConfig {
    /// At most this many queued messages; senders wait (or get `Full`) beyond that.
    Bounded(usize),
    /// No bound: `tell` never waits.
    Unbounded,
}

impl MailboxConfig {
    /// The default capacity of a bounded mailbox.
    pub const DEFAULT_CAPACITY: usize = 1024;
}

impl Default for MailboxConfig {
    fn default() -> Self {
        MailboxConfig::Bounded(Self::DEFAULT_CAPACITY)
    }
}

/// The default number of messages an actor handles per turn before it yields.
pub const DEFAULT_THROUGHPUT: usize = 300;

/// How urgent a user message is, for mailboxes that order by it ([`PriorityMailbox`], and
/// yours if it reads [`Envelope::priority`]). System messages (stop, supervision, watch)
/// come before all of them, always.
///
/// A handler declares its messages' level with `#[handler(priority = high)]` (or `low`);
/// a request can override it with [`Request::priority`](crate::Request::priority).
///
/// # Example
///
/// ```
/// use bactor::Priority;
///
/// assert!(Priority::High > Priority::Normal && Priority::Normal > Priority::Low);
/// assert_eq!(Priority::default(), Priority::Normal);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// After every other user message.
    Low = 0,
    /// The default.
    #[default]
    Normal = 1,
    /// Before every other user message.
    High = 2,
}

impl Priority {
    /// How many levels there are.
    pub const LEVELS: usize = 3;
}

/// A queue for one actor's user messages: the part of its mailbox you can replace.
///
/// `push` is called by any number of senders at once; `pop` by the actor's own task, one
/// message at a time, right before it handles that message. The runtime does the waking,
/// the waiting for room, the dead letters and the closing (see the [module
/// docs](crate::mailbox)), so a queue is usually a `Mutex<VecDeque<..>>` with its own
/// rule for what to keep. Keep `push` short: senders run it on their own task.
///
/// # Example
///
/// A queue that refuses a message while one like it waits:
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::Mutex;
///
/// use bactor::mailbox::{Envelope, Mailbox, Push};
///
/// #[derive(Default)]
/// struct Distinct(Mutex<VecDeque<Envelope<String>>>);
///
/// impl Mailbox<String> for Distinct {
///     fn push(&self, envelope: Envelope<String>) -> Push<String> {
///         let mut queue = self.0.lock().unwrap();
///         if queue.iter().any(|e| e.message() == envelope.message()) {
///             // The runtime publishes it as a dead letter.
///             return Push::Dropped(envelope);
///         }
///         queue.push_back(envelope);
///         Push::Queued
///     }
///
///     fn pop(&self) -> Option<Envelope<String>> {
///         self.0.lock().unwrap().pop_front()
///     }
///
///     fn len(&self) -> usize {
///         self.0.lock().unwrap().len()
///     }
/// }
///
/// let queue = Distinct::default();
/// assert!(matches!(queue.push(Envelope::new("a".to_string())), Push::Queued));
/// assert!(matches!(queue.push(Envelope::new("a".to_string())), Push::Dropped(_)));
/// assert_eq!(queue.len(), 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a mailbox for messages of type `{M}`",
    label = "not a `Mailbox<{M}>`",
    note = "implement `bactor::mailbox::Mailbox<{M}>` for it: `push`, `pop` and `len`"
)]
pub trait Mailbox<M>: Send + Sync + 'static {
    /// Offers one message: queue it ([`Push::Queued`]), queue it and drop another (or drop
    /// it) ([`Push::Dropped`], published as a dead letter), or refuse it for now
    /// ([`Push::Full`]: a `tell` waits for the next `pop` and offers it again).
    fn push(&self, envelope: Envelope<M>) -> Push<M>;

    /// The next message to handle, if any.
    fn pop(&self) -> Option<Envelope<M>>;

    /// How many messages wait.
    fn len(&self) -> usize;

    /// `true` when no message waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What became of a message offered to a [`Mailbox`].
pub enum Push<M> {
    /// Queued.
    Queued,
    /// Accepted, and this message dropped (an older one, or the one offered): the runtime
    /// publishes it as a dead letter, and its asker, if any, gets an error.
    Dropped(Envelope<M>),
    /// No room: the message, handed back. A `tell` waits for a `pop` and offers it again;
    /// a `try_tell` gets it back in `TellError::Full`. Say `Full` only when a `pop` can
    /// make room, or senders wait until the actor stops.
    Full(Envelope<M>),
}

impl<M> fmt::Debug for Push<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Push::Queued => "Queued",
            Push::Dropped(_) => "Dropped",
            Push::Full(_) => "Full",
        })
    }
}

/// A user message in a [`Mailbox`], with its [`Priority`] and [`Headers`].
///
/// # Example
///
/// ```
/// use bactor::mailbox::Envelope;
/// use bactor::Priority;
///
/// let env = Envelope::new(7).with_priority(Priority::High);
/// assert_eq!((*env.message(), env.priority()), (7, Priority::High));
/// assert!(env.headers().is_empty());
/// assert_eq!(env.into_message(), 7);
/// ```
pub struct Envelope<M> {
    message: M,
    headers: Headers,
    priority: Priority,
}

impl<M> Envelope<M> {
    /// `message`, at normal priority, without headers (the runtime builds the envelopes
    /// of real sends; this is for testing a queue).
    pub fn new(message: M) -> Self {
        Envelope {
            message,
            headers: Headers::new(),
            priority: Priority::Normal,
        }
    }

    /// The same envelope at another priority.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    /// The message: the actor's message enum, one variant per handler.
    pub fn message(&self) -> &M {
        &self.message
    }

    /// The message, to change it in place (to merge another into it, say).
    pub fn message_mut(&mut self) -> &mut M {
        &mut self.message
    }

    /// The message, out of its envelope.
    pub fn into_message(self) -> M {
        self.message
    }

    /// The priority: the handler's `#[handler(priority = ..)]`, or the request's override.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The headers the message was sent with.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }
}

impl<M> fmt::Debug for Envelope<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("priority", &self.priority)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Makes a [`Mailbox`] for each actor spawned from one `Props`.
pub(crate) type MakeMailbox<M> = Arc<dyn Fn() -> Box<dyn Mailbox<M>> + Send + Sync>;

/// What travels on a user lane.
pub(crate) enum Letter<M> {
    Msg(M),
    /// A message with headers: boxed, so that every other letter stays as small as
    /// its message.
    Headed(Box<(M, crate::Headers)>),
    /// Graceful stop: handled in order, after everything queued before it.
    Stop,
}

impl<M> Letter<M> {
    /// `msg`, with `headers` if there are any.
    #[inline]
    pub(crate) fn new(msg: M, headers: &crate::Headers) -> Self {
        if headers.is_empty() {
            Letter::Msg(msg)
        } else {
            Self::headed(msg, headers)
        }
    }

    #[cold]
    #[inline(never)]
    fn headed(msg: M, headers: &crate::Headers) -> Self {
        Letter::Headed(Box::new((msg, headers.clone())))
    }
}

/// The sending half of a user lane.
pub(crate) enum UserTx<M> {
    /// The bounded or unbounded kind: bactor's own channel (`chan`).
    Channel(channel::ChannelTx<M>),
    /// Any [`Mailbox`]: the priority kind, or the user's.
    Queue(Arc<queue::QueueLane<M>>),
    /// An actor on another node (feature `remote`): messages are encoded and queued for
    /// that node.
    #[cfg(feature = "remote")]
    Remote(Arc<crate::remote::Lane<M>>),
}

/// The receiving half of a user lane (always local), owned by the actor's task.
pub(crate) enum UserRx<M> {
    Channel(channel::ChannelRx<M>),
    Queue(Arc<queue::QueueLane<M>>),
}

/// The sending half of a bounded or unbounded lane; the receiving half is made from the
/// ref state that holds it, with [`UserRx::channel`].
pub(crate) fn channel_lane<M>(config: MailboxConfig) -> UserTx<M> {
    UserTx::Channel(channel::sender(config))
}

/// A lane around `queue`; `priority_of` gives each message its level.
pub(crate) fn queue_lane<M: 'static>(
    queue: Box<dyn Mailbox<M>>,
    priority_of: fn(&M) -> Priority,
    dead: DeadLetters<M>,
) -> (UserTx<M>, UserRx<M>) {
    let lane = Arc::new(queue::QueueLane::new(queue, priority_of, dead));
    (UserTx::Queue(Arc::clone(&lane)), UserRx::Queue(lane))
}

impl<M> UserTx<M> {
    /// A local lane's notifier, where its senders wait for room. The actor's ref state
    /// waits there for the actor's termination too, rather than keeping one of its own:
    /// every waiter looks again at what it waits for when woken. `None` for a remote
    /// actor.
    pub(crate) fn notify(&self) -> Option<&tokio::sync::Notify> {
        match self {
            UserTx::Channel(tx) => Some(tx.room()),
            UserTx::Queue(lane) => Some(lane.room()),
            #[cfg(feature = "remote")]
            UserTx::Remote(_) => None,
        }
    }
}

impl<M: 'static> UserTx<M> {
    /// Queues `letter`, waiting for room while the lane is full; hands it back when the
    /// actor is not running. `priority` overrides the message's own.
    pub(crate) async fn send(
        &self,
        letter: Letter<M>,
        priority: Option<Priority>,
    ) -> Result<(), Letter<M>> {
        match self {
            UserTx::Channel(tx) => tx.send(letter).await,
            UserTx::Queue(lane) => lane.send(letter, priority).await,
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.send(letter).await,
        }
    }

    /// Queues now, or hands the letter back. The common case (a channel) is inlined into
    /// the send path.
    #[inline]
    pub(crate) fn try_send(
        &self,
        letter: Letter<M>,
        priority: Option<Priority>,
    ) -> Result<(), TellError<Letter<M>>> {
        if let UserTx::Channel(tx) = self {
            return tx.try_send(letter);
        }
        self.try_send_other(letter, priority)
    }

    #[cold]
    #[inline(never)]
    fn try_send_other(
        &self,
        letter: Letter<M>,
        priority: Option<Priority>,
    ) -> Result<(), TellError<Letter<M>>> {
        match self {
            UserTx::Channel(tx) => tx.try_send(letter),
            UserTx::Queue(lane) => lane.try_send(letter, priority),
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.try_send(letter),
        }
    }

    /// Letters queued now (`0` for an actor on another node).
    pub(crate) fn queued(&self) -> u64 {
        match self {
            UserTx::Channel(tx) => tx.len(),
            UserTx::Queue(lane) => lane.queued(),
            #[cfg(feature = "remote")]
            UserTx::Remote(_) => 0,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            UserTx::Channel(tx) => tx.is_closed(),
            UserTx::Queue(lane) => lane.is_closed(),
            #[cfg(feature = "remote")]
            UserTx::Remote(lane) => lane.is_closed(),
        }
    }
}

impl<M: 'static> UserRx<M> {
    /// `Ready(true)` when a letter can be taken: from [`try_pop`](UserRx::try_pop), or
    /// (from a [`Mailbox`]) pushed into `buf`; `Ready(false)` means closed and empty.
    #[inline]
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<Letter<M>>,
    ) -> Poll<bool> {
        match self {
            UserRx::Channel(rx) => rx.poll_ready(cx),
            UserRx::Queue(lane) => lane.poll_recv(cx).map(|next| match next {
                Some(letter) => {
                    buf.push(letter);
                    true
                }
                None => false,
            }),
        }
    }

    /// How many letters are queued now: every push that completed before this call is
    /// among them.
    pub(crate) fn queued(&self) -> u64 {
        match self {
            UserRx::Channel(rx) => rx.queued(),
            UserRx::Queue(lane) => lane.queued(),
        }
    }

    /// The next letter, without waiting.
    #[inline]
    pub(crate) fn try_pop(&mut self) -> Option<Letter<M>> {
        match self {
            UserRx::Channel(rx) => rx.try_pop(),
            UserRx::Queue(lane) => lane.try_next().flatten(),
        }
    }

    /// The next letter; `None` once the lane is closed and empty. After [`close`], this
    /// also waits for a send that was admitted before the close but had not yet landed.
    ///
    /// [`close`]: UserRx::close
    pub(crate) async fn recv(&mut self) -> Option<Letter<M>> {
        std::future::poll_fn(|cx| match self {
            UserRx::Channel(rx) => rx.poll_recv(cx),
            UserRx::Queue(lane) => lane.poll_recv(cx),
        })
        .await
    }
}

impl<M> UserRx<M> {
    /// The receiving half of the channel lane in `owner`.
    pub(crate) fn channel(owner: Arc<crate::actor_ref::RefInner<M>>) -> Self {
        UserRx::Channel(channel::ChannelRx::new(owner))
    }

    /// Refuses new messages; queued ones can still be taken.
    pub(crate) fn close(&mut self) {
        match self {
            UserRx::Channel(rx) => rx.close(),
            UserRx::Queue(lane) => lane.close(),
        }
    }
}

impl<M> Drop for UserRx<M> {
    /// Closes the lane: messages sent from now on are refused as dead, not queued where
    /// nobody will handle them.
    fn drop(&mut self) {
        self.close();
    }
}
