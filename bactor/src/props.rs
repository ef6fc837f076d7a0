//! Spawn recipes: [`Props`] and the closure-based actors.
//!
//! Every way of creating an actor ends in a `Props<A>`: a producer (called to make the
//! actor's state at start and again at every supervised restart) plus per-spawn settings.
//!
//! | pattern | how |
//! |---|---|
//! | class-based | `#[actor]` struct + impl, `system.spawn(Counter::default)` |
//! | producer | `system.spawn(\|\| Counter { count: 10 })`, [`Props::from_producer`] |
//! | lambda | `system.spawn_fn(\|msg: Ping\| async move { .. })`, [`Props::from_fn`] |
//! | stateful | [`Props::from_state`]`(initial, \|state, msg\| ..)` |
//! | context-aware | [`Props::from_func`]`(\|ctx, msg\| ..)` |
//! | behaviours | [`Props::from_behavior`]`(initial)`: closures returning the next [`Behavior`](crate::Behavior) |

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::context::Context;
use crate::error::ActorError;
use crate::mailbox::MailboxConfig;
use crate::supervision::SupervisorStrategy;

type MakeActor<A> = dyn Fn() -> A + Send + Sync;

/// What makes an actor's instances (at start and at each restart); cheap to clone.
pub(crate) struct Producer<A: 'static>(ProducerKind<A>);

enum ProducerKind<A: 'static> {
    /// A producer with no state and nothing to drop (a function, a closure that captures
    /// nothing): nothing to allocate or count, which saves an allocation per spawn.
    Stateless(&'static MakeActor<A>),
    Shared(Arc<MakeActor<A>>),
}

impl<A: 'static> Producer<A> {
    pub(crate) fn new<F: Fn() -> A + Send + Sync + 'static>(make: F) -> Self {
        Producer(if size_of::<F>() == 0 && !std::mem::needs_drop::<F>() {
            // A box of a zero-sized value allocates nothing, and a value with nothing
            // to drop loses nothing by never being dropped.
            ProducerKind::Stateless(Box::leak(Box::new(make)))
        } else {
            ProducerKind::Shared(Arc::new(make))
        })
    }

    /// A new instance.
    pub(crate) fn make(&self) -> A {
        match &self.0 {
            ProducerKind::Stateless(make) => make(),
            ProducerKind::Shared(make) => make(),
        }
    }
}

impl<A: 'static> Clone for Producer<A> {
    fn clone(&self) -> Self {
        Producer(match &self.0 {
            ProducerKind::Stateless(make) => ProducerKind::Stateless(*make),
            ProducerKind::Shared(make) => ProducerKind::Shared(Arc::clone(make)),
        })
    }
}

/// How to create an actor: its producer and per-spawn settings.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// #[actor]
/// struct Greeter {
///     greeting: String,
/// }
///
/// #[actor]
/// impl Greeter {
///     #[handler]
///     fn greet(&self, name: String) -> String {
///         format!("{}, {name}!", self.greeting)
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new();
/// let props = Props::from_producer(|| Greeter { greeting: "Hello".into() })
///     .name("greeter")
///     .mailbox(MailboxConfig::Bounded(16))
///     .throughput(10);
/// let greeter = system.spawn_props(props).await?;
/// assert_eq!(greeter.greet("Ada".into()).await?, "Hello, Ada!");
/// # system.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Props<A: Actor> {
    pub(crate) producer: Producer<A>,
    pub(crate) mailbox: Option<MailboxConfig>,
    pub(crate) make_mailbox: Option<crate::mailbox::MakeMailbox<A::Msg>>,
    pub(crate) throughput: Option<usize>,
    pub(crate) name: Option<String>,
    pub(crate) supervisor: Option<SupervisorStrategy>,
    pub(crate) persistence_id: Option<String>,
    #[cfg(feature = "persist")]
    pub(crate) on_recovered: Option<crate::persistence::RecoveryNotice>,
    pub(crate) receive: Vec<Arc<dyn crate::middleware::ReceiveMiddleware>>,
    pub(crate) send: Vec<Arc<dyn crate::middleware::SendMiddleware>>,
}

impl<A: Actor> Props<A> {
    /// Props that make the actor from `args`, passed once: `make` gets a clone of them
    /// for the first instance and for every restart (so a restart starts from the same
    /// arguments, as the first start did).
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// #[actor]
    /// struct Greeter { greeting: String }
    ///
    /// impl Greeter {
    ///     fn new(greeting: String) -> Self { Greeter { greeting } }
    /// }
    ///
    /// #[actor]
    /// impl Greeter {
    ///     #[handler]
    ///     fn greet(&self, name: String) -> String { format!("{}, {name}!", self.greeting) }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let greeter = system.spawn_with("Hello".to_owned(), Greeter::new).await?;
    /// assert_eq!(greeter.greet("Ada".into()).await?, "Hello, Ada!");
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn from_args<T>(args: T, make: impl Fn(T) -> A + Send + Sync + 'static) -> Self
    where
        T: Clone + Send + Sync + 'static,
    {
        Self::from_producer(move || make(args.clone()))
    }

    /// Props that start the actor from `actor` itself: the first instance is a clone of
    /// it, and so is every restart's (restarts start from this initial state).
    pub fn from_value(actor: A) -> Self
    where
        A: Clone + Sync,
    {
        Self::from_producer(move || actor.clone())
    }

    /// Props whose producer is `producer` (the "producer" pattern).
    pub fn from_producer(producer: impl Fn() -> A + Send + Sync + 'static) -> Self {
        Props {
            producer: Producer::new(producer),
            mailbox: None,
            make_mailbox: None,
            throughput: None,
            name: None,
            supervisor: None,
            persistence_id: None,
            #[cfg(feature = "persist")]
            on_recovered: None,
            receive: Vec::new(),
            send: Vec::new(),
        }
    }

    /// Overrides the mailbox chosen by the actor type and the system with the bounded or
    /// unbounded kind (the priority kind, for an actor with prioritized handlers).
    pub fn mailbox(mut self, mailbox: MailboxConfig) -> Self {
        self.mailbox = Some(mailbox);
        self.make_mailbox = None;
        self
    }

    /// Overrides the mailbox chosen by the actor type and the system with a queue of your
    /// own, made by `make` for each actor spawned from these props (see
    /// [`Mailbox`](crate::Mailbox)).
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::mailbox::PriorityMailbox;
    /// use bactor::prelude::*;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let system = ActorSystem::new();
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let props = Props::from_fn(move |n: u32| {
    ///     let tx = tx.clone();
    ///     async move {
    ///         let _ = tx.send(n);
    ///     }
    /// })
    /// .mailbox_with(|| PriorityMailbox::new(MailboxConfig::Bounded(8)));
    /// let echo = system.spawn_props(props).await?;
    /// echo.tell(1).await?;
    /// assert_eq!(rx.recv().await, Some(1));
    /// # system.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn mailbox_with<Q>(mut self, make: impl Fn() -> Q + Send + Sync + 'static) -> Self
    where
        Q: crate::Mailbox<A::Msg>,
    {
        self.make_mailbox = Some(Arc::new(move || Box::new(make()) as Box<_>));
        self.mailbox = None;
        self
    }

    /// Overrides the messages per turn (values below 1 count as 1).
    pub fn throughput(mut self, throughput: usize) -> Self {
        self.throughput = Some(throughput.max(1));
        self
    }

    /// Overrides how this actor supervises its children (the type's `#[supervise(...)]`,
    /// or the default).
    pub fn supervisor(mut self, strategy: SupervisorStrategy) -> Self {
        self.supervisor = Some(strategy);
        self
    }

    /// Makes the actor event-sourced under this persistence id (feature `persist`): it
    /// recovers from the system's event store before its first message.
    #[cfg(feature = "persist")]
    pub fn persistence_id(mut self, id: impl Into<String>) -> Self
    where
        A: crate::PersistentActor,
    {
        self.persistence_id = Some(id.into());
        self
    }

    /// Adds a layer around every handler invocation of this actor (after the system's
    /// layers, inside those added before). See [`middleware`](crate::middleware).
    pub fn receive_middleware(mut self, layer: impl crate::middleware::ReceiveMiddleware) -> Self {
        self.receive.push(Arc::new(layer));
        self
    }

    /// Adds a layer around every send to this actor, through any of its refs. See
    /// [`middleware`](crate::middleware).
    pub fn send_middleware(mut self, layer: impl crate::middleware::SendMiddleware) -> Self {
        self.send.push(Arc::new(layer));
        self
    }

    /// Registers the actor under `name` (unique among live actors of the system).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<A: Actor> Props<A> {
    /// Props around a shared producer.
    pub(crate) fn from_arc(producer: Producer<A>) -> Self {
        Props {
            producer,
            mailbox: None,
            make_mailbox: None,
            throughput: None,
            name: None,
            supervisor: None,
            persistence_id: None,
            #[cfg(feature = "persist")]
            on_recovered: None,
            receive: Vec::new(),
            send: Vec::new(),
        }
    }
}

impl<A: Actor> Clone for Props<A> {
    fn clone(&self) -> Self {
        Props {
            producer: self.producer.clone(),
            mailbox: self.mailbox,
            make_mailbox: self.make_mailbox.clone(),
            throughput: self.throughput,
            name: self.name.clone(),
            supervisor: self.supervisor,
            persistence_id: self.persistence_id.clone(),
            #[cfg(feature = "persist")]
            on_recovered: self.on_recovered.clone(),
            receive: self.receive.clone(),
            send: self.send.clone(),
        }
    }
}

impl<A: Actor> fmt::Debug for Props<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Props")
            .field("actor", &std::any::type_name::<A>())
            .field("mailbox", &self.mailbox)
            .field("custom_mailbox", &self.make_mailbox.is_some())
            .field("throughput", &self.throughput)
            .field("name", &self.name)
            .field("supervisor", &self.supervisor)
            .finish()
    }
}

/// An actor made of one closure per message (the "lambda" pattern).
///
/// Created by [`Props::from_fn`] and [`ActorSystem::spawn_fn`](crate::ActorSystem::spawn_fn).
/// The closure returns a future that owns what it uses; it cannot borrow state across
/// messages (use [`Props::from_state`] for that).
pub struct FnActor<M, F> {
    f: F,
    _msg: PhantomData<fn(M)>,
}

impl<M, F> fmt::Debug for FnActor<M, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnActor")
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}

impl<M, F, Fut> Actor for FnActor<M, F>
where
    M: Send + 'static,
    F: FnMut(M) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Msg = M;
    type Ref = ActorRef<Self>;

    async fn handle(&mut self, msg: M, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        (self.f)(msg).await;
        Ok(())
    }
}

impl<M, F, Fut> Props<FnActor<M, F>>
where
    M: Send + 'static,
    F: FnMut(M) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Props for an actor that runs `handler(msg).await` for each message.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let printer = system
    ///     .spawn_props(Props::from_fn(move |line: String| {
    ///         let tx = tx.clone();
    ///         async move { tx.send(line.len()).unwrap(); }
    ///     }))
    ///     .await
    ///     .unwrap();
    /// printer.tell("hello".to_string()).await.unwrap();
    /// assert_eq!(rx.recv().await, Some(5));
    /// # }
    /// ```
    pub fn from_fn(handler: F) -> Self {
        Props::from_producer(move || FnActor {
            f: handler.clone(),
            _msg: PhantomData,
        })
    }
}

/// An actor made of a state value and a closure that updates it (the "stateful" pattern).
///
/// Created by [`Props::from_state`]. A restart starts again from a clone of the initial
/// state.
pub struct StateActor<S, M, F> {
    state: S,
    f: F,
    _msg: PhantomData<fn(M)>,
}

impl<S, M, F> fmt::Debug for StateActor<S, M, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateActor")
            .field("state", &std::any::type_name::<S>())
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}

impl<S, M, F> Actor for StateActor<S, M, F>
where
    S: Send + 'static,
    M: Send + 'static,
    F: FnMut(&mut S, M) + Send + 'static,
{
    type Msg = M;
    type Ref = ActorRef<Self>;

    async fn handle(&mut self, msg: M, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        (self.f)(&mut self.state, msg);
        Ok(())
    }
}

impl<S, M, F> Props<StateActor<S, M, F>>
where
    S: Clone + Send + Sync + 'static,
    M: Send + 'static,
    F: FnMut(&mut S, M) + Clone + Send + Sync + 'static,
{
    /// Props for an actor holding `initial` and calling `handler(&mut state, msg)` for each
    /// message.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// enum Tally {
    ///     Add(u64),
    ///     Get(ReplyTo<u64>),
    /// }
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let tally = system
    ///     .spawn_props(Props::from_state(0_u64, |sum: &mut u64, msg: Tally| match msg {
    ///         Tally::Add(n) => *sum += n,
    ///         Tally::Get(reply) => { let _ = reply.send(*sum); }
    ///     }))
    ///     .await
    ///     .unwrap();
    /// tally.tell(Tally::Add(4)).await.unwrap();
    /// assert_eq!(tally.ask(Tally::Get).await.unwrap(), 4);
    /// # }
    /// ```
    pub fn from_state(initial: S, handler: F) -> Self {
        Props::from_producer(move || StateActor {
            state: initial.clone(),
            f: handler.clone(),
            _msg: PhantomData,
        })
    }
}

type FuncHandler<M> = Box<dyn FnMut(&mut Context<FuncActor<M>>, M) + Send>;

/// An actor made of a closure that also gets the [`Context`] (the "context-aware" pattern).
///
/// Created by [`Props::from_func`]. Through the context the closure can reach its own ref,
/// spawn children, set timers and stop itself.
pub struct FuncActor<M: Send + 'static> {
    f: FuncHandler<M>,
}

impl<M: Send + 'static> fmt::Debug for FuncActor<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuncActor")
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}

impl<M: Send + 'static> Actor for FuncActor<M> {
    type Msg = M;
    type Ref = ActorRef<Self>;

    async fn handle(&mut self, msg: M, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        (self.f)(ctx, msg);
        Ok(())
    }
}

impl<M: Send + 'static> Props<crate::behavior::BehaviorActor<M>> {
    /// An actor made of [`Behavior`](crate::Behavior)s: `initial` makes the first one
    /// (at start, and again at every restart); each behaviour handles a message and
    /// returns the next ([`Next`](crate::Next)). Messages it cannot handle yet can be
    /// stashed with [`Context::stash`] and are replayed when the behaviour changes. See
    /// [`Behavior`](crate::Behavior) for an example.
    pub fn from_behavior(
        initial: impl Fn() -> crate::behavior::Behavior<M> + Send + Sync + 'static,
    ) -> Self {
        Props::from_producer(move || crate::behavior::BehaviorActor::new(initial()))
    }
}

impl<M: Send + 'static> Props<FuncActor<M>> {
    /// Props for an actor calling `handler(ctx, msg)` for each message.
    ///
    /// ```
    /// use bactor::prelude::*;
    ///
    /// # #[tokio::main] async fn main() {
    /// let system = ActorSystem::new();
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let once = system
    ///     .spawn_props(Props::from_func(move |ctx: &mut Context<FuncActor<u32>>, n: u32| {
    ///         tx.send((ctx.pid(), n)).unwrap();
    ///         ctx.stop(); // handle one message, then stop
    ///     }))
    ///     .await
    ///     .unwrap();
    /// once.tell(7).await.unwrap();
    /// assert_eq!(rx.recv().await, Some((once.pid(), 7)));
    /// once.stopped().await;
    /// # }
    /// ```
    pub fn from_func<F>(handler: F) -> Self
    where
        F: FnMut(&mut Context<FuncActor<M>>, M) + Clone + Send + Sync + 'static,
    {
        Props::from_producer(move || FuncActor {
            f: Box::new(handler.clone()),
        })
    }
}
