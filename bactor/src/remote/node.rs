//! A node: an actor system with an endpoint, and what arrives through it.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use bactor_remote::endpoint::{Endpoint, EndpointConfig, EndpointEvent, Inbound, SendError, Wait};
use bactor_remote::handshake::{Identity, Secret};
use bactor_remote::{Envelope as Wire, Kind, Name};
use tokio::sync::oneshot;

use super::codec::{self, Codec, CodecError};
use super::target::{
    Lane, PendingReply, ReplyChannel, Target, decode_failure, decode_reason, local_pid,
    system_envelope,
};
use super::{RemoteActor, RemoteStub, node_id};
use crate::actor::Actor;
use crate::actor_ref::{ActorRef, RefInner, Reply, ReplyTo};
use crate::error::{AskError, RemoteFailure, SpawnError, StopReason};
use crate::events::SystemEvent;
use crate::mailbox::UserTx;
use crate::system::{ActorSystem, ActorSystemBuilder, SysTx, SystemMsg, WeakSystem};
use crate::{Pid, Props};

/// Builds a [`Node`]: where it listens, the cluster secret, TLS, the payload codec and
/// the actor kinds other nodes may spawn here.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
/// use bactor::remote::NodeBuilder;
///
/// #[actor]
/// #[derive(Default)]
/// struct Counter {
///     count: u64,
/// }
///
/// #[actor(remote)]
/// impl Counter {
///     #[handler]
///     fn add(&mut self, by: u64) -> u64 {
///         self.count += by;
///         self.count
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let any_port = "127.0.0.1:0".parse()?;
/// let a = NodeBuilder::new(any_port, "cluster secret").start().await?;
/// let b = NodeBuilder::new(any_port, "cluster secret")
///     .kind(Counter::default)
///     .start()
///     .await?;
/// // A spawns a Counter on B and talks to it through an ordinary CounterRef.
/// let counter: CounterRef = a.spawn_remote::<Counter>(b.address(), None).await?;
/// assert_eq!(counter.add(2).await?, 2);
/// assert_eq!(counter.add(3).await?, 5);
/// a.shutdown().await;
/// b.shutdown().await;
/// # Ok(()) }
/// ```
pub struct NodeBuilder {
    config: EndpointConfig,
    codec: Codec,
    system: ActorSystemBuilder,
    kinds: HashMap<&'static str, SpawnKind>,
    request_timeout: Duration,
}

/// Spawns one actor of a registered kind: on `system`, under `name`, from the arguments
/// (in `codec`'s format) when the request carries some; the refusal's reason otherwise.
type SpawnKind = Arc<
    dyn Fn(&ActorSystem, Option<String>, Option<&[u8]>, Codec) -> Result<Pid, String> + Send + Sync,
>;

/// Spawns `producer`'s actors on `system`, under `name`.
fn spawn_from<A: Actor>(
    system: &ActorSystem,
    name: Option<String>,
    producer: impl Fn() -> A + Send + Sync + 'static,
) -> Result<Pid, String> {
    let mut props = Props::from_producer(producer);
    if let Some(name) = name {
        props = props.name(name);
    }
    system
        .spawn_now(props)
        .map_err(|e: SpawnError| e.to_string())
}

impl fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("bind", &self.config.bind)
            .field("advertised", &self.config.advertised)
            .field("codec", &self.codec)
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl NodeBuilder {
    /// A node listening on `bind` (port 0 picks a free one) that lets in peers knowing
    /// `secret`.
    pub fn new(bind: SocketAddr, secret: impl Into<Vec<u8>>) -> Self {
        NodeBuilder {
            config: EndpointConfig::new(bind, Secret::new(secret.into())),
            codec: Codec::default(),
            system: ActorSystem::builder(),
            kinds: HashMap::new(),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// The address other nodes reach this one at (default: the bound address). It names
    /// the node: pids carry a hash of it.
    pub fn advertise(mut self, address: impl Into<String>) -> Self {
        self.config.advertised = Some(address.into());
        self
    }

    /// TLS on every stream to and from this node (feature `tls`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: super::TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// The payload format (default [`Codec::Postcard`]); every node of a cluster must use
    /// the same.
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Lets other nodes spawn actors of kind `A` here ([`Node::spawn_remote`]), each made
    /// by `producer` (which also makes the fresh state of supervised restarts).
    pub fn kind<A: RemoteActor>(
        mut self,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Self {
        let producer = Arc::new(producer);
        let spawn: SpawnKind = Arc::new(move |system, name, args, _| {
            if args.is_some() {
                return Err(format!(
                    "actor kind `{}` takes no arguments here: spawn it with `spawn_remote`",
                    A::KIND
                ));
            }
            let producer = Arc::clone(&producer);
            spawn_from(system, name, move || producer())
        });
        self.kinds.insert(A::KIND, spawn);
        self
    }

    /// Lets other nodes spawn actors of kind `A` here with arguments
    /// ([`Node::spawn_remote_with`]): each is made by `producer` from the `Args` the
    /// spawning node sent, and its supervised restarts from a clone of them. A spawn
    /// without arguments, or with arguments that do not decode as `Args`, is refused
    /// (`RemoteError::Refused`, saying which).
    ///
    /// # Example
    ///
    /// ```
    /// use bactor::prelude::*;
    /// use bactor::remote::NodeBuilder;
    ///
    /// #[actor]
    /// struct Greeter {
    ///     greeting: String,
    /// }
    ///
    /// #[actor(remote)]
    /// impl Greeter {
    ///     #[handler]
    ///     fn greet(&self, name: String) -> String {
    ///         format!("{}, {name}!", self.greeting)
    ///     }
    /// }
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let any_port = "127.0.0.1:0".parse()?;
    /// let a = NodeBuilder::new(any_port, "secret").start().await?;
    /// let b = NodeBuilder::new(any_port, "secret")
    ///     .kind_with(|greeting: String| Greeter { greeting })
    ///     .start()
    ///     .await?;
    /// let greeter = a
    ///     .spawn_remote_with::<Greeter, _>(b.address(), None, &"Hello".to_owned())
    ///     .await?;
    /// assert_eq!(greeter.greet("Ada".into()).await?, "Hello, Ada!");
    /// # a.shutdown().await;
    /// # b.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn kind_with<A, Args>(
        mut self,
        producer: impl Fn(Args) -> A + Send + Sync + 'static,
    ) -> Self
    where
        A: RemoteActor,
        Args: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let producer = Arc::new(producer);
        let spawn: SpawnKind = Arc::new(move |system, name, args, codec| {
            let Some(bytes) = args else {
                return Err(format!(
                    "actor kind `{}` needs arguments (`{}`): spawn it with `spawn_remote_with`",
                    A::KIND,
                    std::any::type_name::<Args>()
                ));
            };
            let args: Args = codec::decode_args(codec, bytes).map_err(|e| {
                format!(
                    "the arguments for actor kind `{}` are not a `{}`: {e}",
                    A::KIND,
                    std::any::type_name::<Args>()
                )
            })?;
            let producer = Arc::clone(&producer);
            spawn_from(system, name, move || producer(args.clone()))
        });
        self.kinds.insert(A::KIND, spawn);
        self
    }

    /// How often an idle stream carries a heartbeat (default 1 s), and how long a stream
    /// may stay silent before its peer counts as gone and the stream is closed
    /// (default 5 s).
    pub fn heartbeat(mut self, interval: Duration, peer_timeout: Duration) -> Self {
        self.config.heartbeat_interval = interval;
        self.config.peer_timeout = peer_timeout;
        self
    }

    /// How long a peer may stay unreachable before it is down: its actors' watchers get
    /// [`StopReason::NodeDown`] and asks to it fail (default 10 s).
    pub fn down_after(mut self, timeout: Duration) -> Self {
        self.config.down_after = timeout;
        self
    }

    /// The first and the longest wait between two dials of a lost peer (default 100 ms
    /// and 5 s; it doubles in between, with jitter).
    pub fn reconnect(mut self, min: Duration, max: Duration) -> Self {
        self.config.reconnect_min = min;
        self.config.reconnect_max = max;
        self
    }

    /// How long [`Node::spawn_remote`] and [`Node::lookup_remote`] wait for an answer
    /// (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Changes the settings of the node's actor system (mailbox, throughput, guardian,
    /// persistence). Its node id is the node's, whatever is set here.
    pub fn system(mut self, f: impl FnOnce(ActorSystemBuilder) -> ActorSystemBuilder) -> Self {
        self.system = f(self.system);
        self
    }

    /// How the node listens and dials (default: TCP with `TCP_NODELAY`). A network
    /// simulator such as turmoil plugs in here.
    pub fn transport(mut self, transport: Arc<dyn super::transport::Transport>) -> Self {
        self.config.transport = Some(transport);
        self
    }

    /// Any other setting of the endpoint (frame limits, queue bound, handshake timeout,
    /// the seed of the reconnection jitter).
    pub fn endpoint(mut self, f: impl FnOnce(&mut EndpointConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Binds the endpoint and starts the node.
    pub async fn start(self) -> Result<Node, NodeError> {
        let slot: Arc<OnceLock<Weak<NodeShared>>> = Arc::new(OnceLock::new());
        let mut config = self.config;
        let incarnation = config.incarnation;
        let endpoint = Endpoint::bind(config.clone(), InboundOf(Arc::clone(&slot)))
            .await
            .map_err(NodeError)?;
        let address: Arc<str> = endpoint.identity().address.as_str().into();
        config.advertised = Some(address.to_string());
        let system = self
            .system
            .node(node_id(&address))
            .incarnation(incarnation)
            .build();
        let shared = Arc::new(NodeShared {
            node_id: node_id(&address),
            incarnation,
            address,
            codec: self.codec,
            endpoint,
            system: system.downgrade(),
            kinds: self.kinds,
            request_timeout: self.request_timeout,
            pending: Mutex::new(Pending::default()),
            targets: Mutex::new(HashMap::new()),
            watched: Mutex::new(HashMap::new()),
            incarnations: Mutex::new(HashMap::new()),
            directory: Mutex::new(HashMap::new()),
            methods: Mutex::new(Methods::default()),
        });
        system.attach_node(Arc::clone(&shared));
        let _ = slot.set(Arc::downgrade(&shared));
        Ok(Node { shared, system })
    }
}

/// Why a node could not start.
#[derive(Debug)]
pub struct NodeError(bactor_remote::endpoint::BindError);

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Why a remote spawn or lookup failed.
///
/// # Example
///
/// ```
/// use bactor::remote::RemoteError;
///
/// let e = RemoteError::Refused("no actor named `x`".into());
/// assert_eq!(e.to_string(), "refused by the remote node: no actor named `x`");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteError {
    /// The remote node answered no: an unknown kind, a name in use, no actor of that name
    /// or kind.
    Refused(String),
    /// The request did not get an answer: the node is down or unreachable, or did not
    /// answer in time ([`AskError::Timeout`]).
    Failed(AskError),
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::Refused(why) => write!(f, "refused by the remote node: {why}"),
            RemoteError::Failed(e) => write!(f, "no answer from the remote node: {e}"),
        }
    }
}

impl std::error::Error for RemoteError {}

/// An actor system that other nodes can reach. Derefs to its [`ActorSystem`]: spawn,
/// look up and shut down as usual.
///
/// See [`NodeBuilder`] for an example.
pub struct Node {
    shared: Arc<NodeShared>,
    system: ActorSystem,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("address", &self.shared.address)
            .field("incarnation", &self.shared.incarnation)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Node {
    type Target = ActorSystem;

    fn deref(&self) -> &ActorSystem {
        &self.system
    }
}

impl Node {
    /// The address other nodes reach this one at.
    pub fn address(&self) -> &str {
        &self.shared.address
    }

    /// The socket address the node's endpoint listens on (the advertised address may
    /// differ, behind a proxy or NAT).
    pub fn endpoint_address(&self) -> SocketAddr {
        self.shared.endpoint.local_addr()
    }

    /// The node's actor system.
    pub fn system(&self) -> &ActorSystem {
        &self.system
    }

    /// Spawns an actor of kind `A` on the node at `address` (which must have registered
    /// the kind with [`NodeBuilder::kind`]), optionally under a name there, and returns a
    /// ref to it.
    pub async fn spawn_remote<A: RemoteActor>(
        &self,
        address: &str,
        name: Option<&str>,
    ) -> Result<A::Ref, RemoteError> {
        let payload = postcard::to_stdvec(&(A::KIND, name))
            .map_err(|e| RemoteError::Refused(format!("cannot encode the request: {e}")))?;
        let pid = self.shared.request(address, "$spawn", payload).await?;
        Ok(self.remote_ref::<A>(address, pid))
    }

    /// Spawns an actor of kind `A` on the node at `address` from `args`, as
    /// [`spawn_remote`](Node::spawn_remote) does without: that node must have registered
    /// the kind with [`NodeBuilder::kind_with`] for arguments of the same type. The
    /// arguments travel in this node's codec, refs inside them included.
    ///
    /// # Example
    ///
    /// See [`NodeBuilder::kind_with`].
    pub async fn spawn_remote_with<A: RemoteActor, Args: serde::Serialize>(
        &self,
        address: &str,
        name: Option<&str>,
        args: &Args,
    ) -> Result<A::Ref, RemoteError> {
        let mut encoded = Vec::new();
        codec::with_home(&self.shared.address, || {
            codec::encode_args(self.shared.codec, args, &mut encoded)
        })
        .map_err(|e| RemoteError::Refused(format!("cannot encode the arguments: {e}")))?;
        let payload = postcard::to_stdvec(&(A::KIND, name, encoded))
            .map_err(|e| RemoteError::Refused(format!("cannot encode the request: {e}")))?;
        let pid = self.shared.request(address, "$spawn_with", payload).await?;
        Ok(self.remote_ref::<A>(address, pid))
    }

    /// Finds the actor named `name` on the node at `address`; it must be of kind `A`.
    pub async fn lookup_remote<A: RemoteActor>(
        &self,
        address: &str,
        name: &str,
    ) -> Result<A::Ref, RemoteError> {
        let payload = postcard::to_stdvec(&(A::KIND, name))
            .map_err(|e| RemoteError::Refused(format!("cannot encode the request: {e}")))?;
        let pid = self.shared.request(address, "$lookup", payload).await?;
        Ok(self.remote_ref::<A>(address, pid))
    }

    /// A ref to the actor `pid` on the node at `address`, without asking that node: the
    /// ref fails as a dead one would if there is no such actor.
    pub fn remote_ref<A: RemoteActor>(&self, address: &str, pid: Pid) -> A::Ref {
        self.shared.remote_ref::<A>(address.into(), pid).typed()
    }

    /// Stops every actor of this node, then its endpoint.
    pub async fn shutdown(&self) {
        self.system.shutdown().await;
        self.shared.endpoint.shutdown().await;
    }
}

/// The asks this node waits on, by correlation id.
#[derive(Default)]
struct Pending {
    asks: HashMap<u64, PendingAsk>,
    next: u64,
    /// Inserts since the last sweep of asks nobody waits for any more.
    since_sweep: usize,
}

struct PendingAsk {
    address: Arc<str>,
    incarnation: u64,
    reply: Box<dyn PendingReply>,
}

/// Asks whose askers gave up (a timeout) are swept out after this many new ones.
const SWEEP_EVERY: usize = 1024;

/// What a node's refs, reply slots and inbound share.
pub(crate) struct NodeShared {
    node_id: u64,
    incarnation: u64,
    address: Arc<str>,
    codec: Codec,
    endpoint: Endpoint,
    system: WeakSystem,
    kinds: HashMap<&'static str, SpawnKind>,
    request_timeout: Duration,
    pending: Mutex<Pending>,
    /// One target per remote pid, shared by every ref to it.
    targets: Mutex<HashMap<Pid, Weak<Target>>>,
    /// The targets local actors watch (kept alive while they do).
    watched: Mutex<HashMap<Pid, Arc<Target>>>,
    /// The incarnation each peer address runs now.
    incarnations: Mutex<HashMap<Arc<str>, u64>>,
    /// Node ids seen, and their addresses.
    directory: Mutex<HashMap<u64, Arc<str>>>,
    /// The wire names of each kind's methods.
    methods: Mutex<Methods>,
}

#[derive(Default)]
struct Methods {
    /// The kinds whose method names are known.
    kinds: std::collections::HashSet<&'static str>,
    /// Every method name of those kinds, for dead letters.
    names: std::collections::HashSet<&'static str>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update of these maps is one insert or remove: a panic elsewhere cannot leave
    // them half-done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The wire name of a system method (`$spawn`, `$watch`, ...).
pub(crate) fn system_method(name: &'static str) -> Name {
    Name::from(name)
}

impl NodeShared {
    pub(crate) fn address(&self) -> &Arc<str> {
        &self.address
    }

    pub(crate) fn codec(&self) -> Codec {
        self.codec
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The pid this node watches remote actors under: id 0 is never an actor's.
    pub(crate) fn watcher_pid(&self) -> Pid {
        Pid::new(self.node_id, 0, self.incarnation)
    }

    pub(crate) fn incarnation_of(&self, address: &str) -> Option<u64> {
        lock(&self.incarnations).get(address).copied()
    }

    /// Every node this one has met, with the incarnation it runs (the last one met).
    #[cfg_attr(not(feature = "dashboard"), allow(dead_code))]
    pub(crate) fn peers(&self) -> Vec<(String, u64)> {
        lock(&self.incarnations)
            .iter()
            .map(|(address, incarnation)| (address.to_string(), *incarnation))
            .collect()
    }

    pub(crate) fn send_system(&self, address: &str, envelope: Wire) {
        self.endpoint.send_system(address, envelope);
    }

    pub(crate) fn dead_letter(&self, recipient: Pid, message: &'static str) {
        if let Some(system) = self.system.upgrade() {
            system.events().dead_letter(recipient, message);
        }
    }

    fn publish(&self, event: SystemEvent) {
        if let Some(system) = self.system.upgrade() {
            system.events().publish(event);
        }
    }

    pub(crate) fn watched(&self, target: &Arc<Target>) {
        lock(&self.watched).insert(target.pid, Arc::clone(target));
    }

    pub(crate) fn unwatched(&self, pid: Pid) {
        lock(&self.watched).remove(&pid);
    }

    /// Registers an ask to `target`; returns its correlation id.
    pub(crate) fn pending_ask(&self, target: &Target, reply: Box<dyn PendingReply>) -> u64 {
        self.pending_to(&target.address, target.pid.incarnation(), reply)
    }

    fn pending_to(
        &self,
        address: &Arc<str>,
        incarnation: u64,
        reply: Box<dyn PendingReply>,
    ) -> u64 {
        let mut pending = lock(&self.pending);
        pending.since_sweep += 1;
        if pending.since_sweep >= SWEEP_EVERY {
            pending.since_sweep = 0;
            pending.asks.retain(|_, ask| !ask.reply.is_closed());
        }
        pending.next += 1;
        let correlation = pending.next;
        pending.asks.insert(
            correlation,
            PendingAsk {
                address: Arc::clone(address),
                incarnation,
                reply,
            },
        );
        correlation
    }

    fn take_pending(&self, correlation: u64) -> Option<PendingAsk> {
        lock(&self.pending).asks.remove(&correlation)
    }

    /// Fails the asks waiting on `address` (of run `incarnation`, or any run).
    fn fail_pending(&self, address: &str, incarnation: Option<u64>, error: &AskError) {
        let failed: Vec<PendingAsk> = {
            let mut pending = lock(&self.pending);
            let ids: Vec<u64> = pending
                .asks
                .iter()
                .filter(|(_, a)| {
                    &*a.address == address && incarnation.is_none_or(|i| i == a.incarnation)
                })
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| pending.asks.remove(id))
                .collect()
        };
        for ask in failed {
            ask.reply.fail(error.clone());
        }
    }

    /// The shared target of `pid` at `address`.
    fn target(self: &Arc<Self>, address: Arc<str>, pid: Pid) -> Arc<Target> {
        lock(&self.directory)
            .entry(pid.node())
            .or_insert_with(|| Arc::clone(&address));
        let mut targets = lock(&self.targets);
        if let Some(target) = targets.get(&pid).and_then(Weak::upgrade) {
            return target;
        }
        if targets.len() >= 1024 && targets.len().is_power_of_two() {
            targets.retain(|_, t| t.strong_count() > 0);
        }
        let target = Arc::new(Target::new(Arc::clone(self), address, pid));
        targets.insert(pid, Arc::downgrade(&target));
        target
    }

    /// The wire names of `stub`'s methods, remembered (once per kind) for dead letters.
    fn methods_of<A: Actor>(&self, stub: &RemoteStub<A>) -> &'static [&'static str] {
        let mut methods = lock(&self.methods);
        let Methods { kinds, names } = &mut *methods;
        if kinds.insert(stub.kind) {
            names.extend(stub.methods.iter().copied());
        }
        stub.methods
    }

    /// A ref to `pid` on the node at `address`. A detached (dead) ref for actors that are
    /// not `#[actor(remote)]`.
    pub(crate) fn remote_ref<A: Actor>(
        self: &Arc<Self>,
        address: Arc<str>,
        pid: Pid,
    ) -> ActorRef<A> {
        let (Some(system), Some(stub)) = (self.system.upgrade(), A::remote_stub()) else {
            return ActorRef::detached(pid, &self.system.upgrade().unwrap_or_default());
        };
        if *address == *self.address {
            return system
                .resolve_raw::<A>(pid)
                .unwrap_or_else(|_| ActorRef::detached(pid, &system));
        }
        let target = self.target(address, pid);
        if self
            .incarnation_of(&target.address)
            .is_some_and(|i| i != pid.incarnation())
        {
            target.died(StopReason::NodeDown(target.address.to_string()));
        }
        let lane = Lane {
            target: Arc::clone(&target),
            encode: stub.encode,
            take_reply: stub.take_reply,
            name_of: A::message_name,
            methods: self.methods_of(&stub),
        };
        #[cfg_attr(not(feature = "metrics"), allow(unused_mut))]
        let mut inner = RefInner::new(
            pid,
            UserTx::Remote(Arc::new(lane)),
            SysTx::Remote(target),
            Arc::clone(system.events_arc()),
            A::message_name,
            std::any::type_name::<A>,
        );
        // Its asks are timed (`bactor_ask_seconds`) under the actor's type, as the
        // caller sees them.
        #[cfg(feature = "metrics")]
        {
            inner.metrics = system.type_metrics(std::any::type_name::<A>());
        }
        ActorRef::from_inner(Arc::new(inner))
    }

    /// Resolves a deserialized ref: local pids here, remote ones through their home
    /// address (sent with the ref, or known from an earlier one).
    pub(crate) fn resolve<A: Actor>(
        self: &Arc<Self>,
        system: &ActorSystem,
        pid: Pid,
        home: Option<String>,
    ) -> ActorRef<A> {
        if pid.node() == self.node_id {
            return system
                .resolve_raw::<A>(pid)
                .unwrap_or_else(|_| ActorRef::detached(pid, system));
        }
        let address = match home {
            Some(home) => Some(Arc::<str>::from(home)),
            None => lock(&self.directory).get(&pid.node()).cloned(),
        };
        match address {
            Some(address) => self.remote_ref::<A>(address, pid),
            None => ActorRef::detached(pid, system),
        }
    }

    /// Sends a system request that expects a pid back, and waits for it.
    async fn request(
        self: &Arc<Self>,
        address: &str,
        method: &'static str,
        payload: Vec<u8>,
    ) -> Result<Pid, RemoteError> {
        let (tx, rx) = oneshot::channel::<Reply<Result<Pid, String>>>();
        let reply: Box<dyn PendingReply> = Box::new(super::target::Pending(ReplyTo::new(tx)));
        let address: Arc<str> = address.into();
        let incarnation = self.incarnation_of(&address).unwrap_or_default();
        let correlation = self.pending_to(&address, incarnation, reply);
        let mut envelope = system_envelope(Default::default(), None, method, payload);
        envelope.kind = Kind::Ask;
        envelope.correlation = correlation;
        self.send_system(&address, envelope);
        let answer = tokio::time::timeout(self.request_timeout, rx).await;
        // Answered or not, it is no longer pending.
        self.take_pending(correlation);
        match answer {
            Err(_) => Err(RemoteError::Failed(AskError::Timeout)),
            Ok(answer) => match Reply::into_result(answer) {
                Ok(Ok(pid)) => Ok(pid),
                Ok(Err(why)) => Err(RemoteError::Refused(why)),
                Err(e) => Err(RemoteError::Failed(e)),
            },
        }
    }

    /// The static name of a method, for dead letters.
    fn static_name(&self, method: &str) -> &'static str {
        lock(&self.methods)
            .names
            .get(method)
            .copied()
            .unwrap_or("a message for another node")
    }
}

/// What the envelopes of one frame share: the last target and its last method.
#[derive(Default)]
struct Recent {
    hosted: Option<(Pid, Arc<dyn Hosted>)>,
    method: Option<(Name, usize)>,
}

/// The endpoint's inbound: the node, once it is up.
struct InboundOf(Arc<OnceLock<Weak<NodeShared>>>);

impl InboundOf {
    fn node(&self) -> Option<Arc<NodeShared>> {
        self.0.get().and_then(Weak::upgrade)
    }
}

impl Inbound for InboundOf {
    fn deliver(&self, from: &Identity, envelope: Wire) {
        if let Some(wait) = self.deliver_or_wait(from, envelope) {
            tokio::spawn(wait);
        }
    }

    fn deliver_or_wait(&self, from: &Identity, envelope: Wire) -> Option<Wait> {
        self.deliver_frame(from, &mut vec![envelope].into_iter())
    }

    fn deliver_frame(
        &self,
        from: &Identity,
        envelopes: &mut std::vec::IntoIter<Wire>,
    ) -> Option<Wait> {
        self.node()?.arrived_frame(from, envelopes)
    }

    fn undeliverable(&self, envelope: Wire, error: SendError) {
        if let Some(node) = self.node() {
            node.undeliverable(envelope, &error);
        }
    }

    fn event(&self, event: EndpointEvent) {
        if let Some(node) = self.node() {
            node.endpoint_event(event);
        }
    }
}

/// An actor of this node as other nodes reach it.
pub(crate) trait Hosted: Send + Sync {
    fn kind(&self) -> &'static str;
    /// Decodes and queues a message; a future to await when its mailbox is full.
    fn deliver(
        &self,
        method: &Name,
        payload: &[u8],
        codec: Codec,
        reply: &mut Option<ReplyChannel>,
        last: &mut Option<(Name, usize)>,
        headers: Vec<(String, String)>,
    ) -> Result<Option<Wait>, CodecError>;
    /// A graceful stop in line with the messages before it.
    fn graceful_stop(&self) -> Option<Wait>;
}

struct HostedActor<A: Actor> {
    actor: ActorRef<A>,
    stub: RemoteStub<A>,
}

/// The remote entry point of a newly spawned actor, for `#[actor(remote)]` types.
pub(crate) fn hosted<A: Actor>(actor: &ActorRef<A>) -> Option<Arc<dyn Hosted>> {
    let stub = A::remote_stub()?;
    Some(Arc::new(HostedActor {
        actor: actor.clone(),
        stub,
    }))
}

impl<A: Actor> Hosted for HostedActor<A> {
    fn kind(&self) -> &'static str {
        self.stub.kind
    }

    fn deliver(
        &self,
        method: &Name,
        payload: &[u8],
        codec: Codec,
        reply: &mut Option<ReplyChannel>,
        last: &mut Option<(Name, usize)>,
        headers: Vec<(String, String)>,
    ) -> Result<Option<Wait>, CodecError> {
        // A frame's envelopes share one name per method: the index found for the
        // previous one serves the next.
        let index = match last {
            Some((name, index)) if name.same_text_ptr(method) => *index,
            _ => {
                let Some(index) = self.stub.methods.iter().position(|m| *m == &**method) else {
                    return Err(CodecError::new(format!(
                        "`{}` has no method `{method}` (another version of the actor?)",
                        self.stub.kind
                    )));
                };
                *last = Some((method.clone(), index));
                index
            }
        };
        let msg = (self.stub.decode)(index, payload, codec, reply)?;
        let inner = &self.actor.inner;
        let headers = if headers.is_empty() {
            crate::Headers::new()
        } else {
            crate::Headers::from_wire(headers)
        };
        match inner.try_push_or_keep(msg, None, &headers) {
            Ok(()) => Ok(None),
            Err(crate::actor_ref::NotNow::Full(letter)) => {
                let inner = Arc::clone(inner);
                let take_reply = self.stub.take_reply;
                Ok(Some(Box::pin(async move {
                    if let Err(msg) = inner.letter_when_room(letter, None).await
                        && let Some(reply) = take_reply(msg)
                    {
                        reply.fail(AskError::Dead);
                    }
                })))
            }
            Err(crate::actor_ref::NotNow::Failed(crate::TellError::Dead(msg))) => {
                if let Some(reply) = (self.stub.take_reply)(msg) {
                    reply.fail(AskError::Dead);
                }
                Ok(None)
            }
            // Send middleware of the actor refused it (and published the dead letter).
            Err(crate::actor_ref::NotNow::Failed(crate::TellError::Refused(msg, rejection))) => {
                if let Some(reply) = (self.stub.take_reply)(msg) {
                    reply.fail(AskError::Rejected(rejection));
                }
                Ok(None)
            }
            // Not reported by `try_push_or_keep` (a full lane hands the letter back).
            Err(crate::actor_ref::NotNow::Failed(crate::TellError::Full(msg))) => {
                if let Some(reply) = (self.stub.take_reply)(msg) {
                    reply.fail(AskError::Dead);
                }
                Ok(None)
            }
        }
    }

    fn graceful_stop(&self) -> Option<Wait> {
        let inner = Arc::clone(&self.actor.inner);
        Some(Box::pin(async move {
            let _ = inner.push_graceful_stop().await;
        }))
    }
}

impl NodeShared {
    /// The envelopes of one frame from `from`, until one needs a wait. The system, the
    /// decoding scope and the target of a run of envelopes to one actor are looked up
    /// once.
    fn arrived_frame(
        self: &Arc<Self>,
        from: &Identity,
        envelopes: &mut std::vec::IntoIter<Wire>,
    ) -> Option<Wait> {
        let system = self.system.upgrade()?;
        let mut cache = Recent::default();
        system.with_deserialization(|| {
            codec::from_wire(|| {
                for envelope in envelopes.by_ref() {
                    if let Some(wait) = self.arrived(&system, from, envelope, &mut cache) {
                        return Some(wait);
                    }
                }
                None
            })
        })
    }

    /// One envelope from `from` (inside the frame's decoding scope).
    fn arrived(
        self: &Arc<Self>,
        system: &ActorSystem,
        from: &Identity,
        envelope: Wire,
        cache: &mut Recent,
    ) -> Option<Wait> {
        match envelope.kind {
            Kind::Reply => {
                let ask = self.take_pending(envelope.correlation)?;
                ask.reply.complete(&envelope.payload, self.codec);
                None
            }
            Kind::Failure => {
                let ask = self.take_pending(envelope.correlation)?;
                ask.reply.fail(decode_failure(&envelope.payload, |name| {
                    self.static_name(name)
                }));
                None
            }
            Kind::Tell | Kind::Ask if envelope.method.starts_with('$') => {
                self.system_call(system, from, envelope)
            }
            Kind::Tell | Kind::Ask => self.user_call(system, from, envelope, cache),
        }
    }

    fn reply_channel(self: &Arc<Self>, from: &Identity, envelope: &Wire) -> Option<ReplyChannel> {
        (envelope.kind == Kind::Ask).then(|| ReplyChannel {
            node: Arc::clone(self),
            peer: from.address.as_str().into(),
            correlation: envelope.correlation,
        })
    }

    fn user_call(
        self: &Arc<Self>,
        system: &ActorSystem,
        from: &Identity,
        envelope: Wire,
        cache: &mut Recent,
    ) -> Option<Wait> {
        let mut reply = self.reply_channel(from, &envelope);
        let target = local_pid(envelope.target);
        let _span = crate::trace::remote_receive(target, &from.address, &envelope.method);
        let hosted = match &cache.hosted {
            Some((pid, hosted)) if *pid == target => Arc::clone(hosted),
            _ => {
                let Some(hosted) = system.hosted(target) else {
                    system
                        .events()
                        .dead_letter(target, "a message from another node");
                    if let Some(reply) = reply {
                        reply.fail(&AskError::Dead);
                    }
                    return None;
                };
                cache.hosted = Some((target, Arc::clone(&hosted)));
                cache.method = None;
                hosted
            }
        };
        let delivered = hosted.deliver(
            &envelope.method,
            &envelope.payload,
            self.codec,
            &mut reply,
            &mut cache.method,
            envelope.headers,
        );
        match delivered {
            Ok(wait) => wait,
            Err(e) => {
                crate::trace::remote_problem(&from.address, &e.0);
                system
                    .events()
                    .dead_letter(target, "an undecodable message from another node");
                if let Some(reply) = reply {
                    reply.fail(&AskError::Remote(RemoteFailure::Codec(e.0)));
                }
                None
            }
        }
    }

    fn system_call(
        self: &Arc<Self>,
        system: &ActorSystem,
        from: &Identity,
        envelope: Wire,
    ) -> Option<Wait> {
        let target = local_pid(envelope.target);
        let sender = envelope.sender.map(local_pid);
        match &*envelope.method {
            "$stop" => {
                if let Some(lane) = system.system_lane(target) {
                    let _ = lane.send(SystemMsg::Stop);
                }
                None
            }
            "$graceful_stop" => system.hosted(target)?.graceful_stop(),
            "$watch" => {
                let watcher = sender?;
                let back = self.target(from.address.as_str().into(), watcher);
                let watch = SystemMsg::Watch {
                    watcher,
                    sys: SysTx::Remote(Arc::clone(&back)),
                };
                let sent = system
                    .system_lane(target)
                    .is_some_and(|lane| lane.send(watch).is_ok());
                if !sent {
                    // Not alive here: say so at once.
                    let _ = back.system(SystemMsg::Terminated {
                        pid: target,
                        reason: StopReason::NotFound,
                    });
                }
                None
            }
            "$unwatch" => {
                if let (Some(watcher), Some(lane)) = (sender, system.system_lane(target)) {
                    let _ = lane.send(SystemMsg::Unwatch { watcher });
                }
                None
            }
            "$terminated" => {
                let dead = sender?;
                let watched = lock(&self.watched).get(&dead).cloned();
                if let Some(target) = watched {
                    target.died(decode_reason(&envelope.payload));
                }
                None
            }
            "$spawn" | "$spawn_with" | "$lookup" => {
                let reply = self.reply_channel(from, &envelope)?;
                let answer = self.spawn_or_lookup(system, &envelope.method, &envelope.payload);
                let mut envelope = system_envelope(Default::default(), None, "", Vec::new());
                envelope.kind = Kind::Reply;
                envelope.correlation = reply.correlation;
                envelope.payload = codec::encode_to_vec(self.codec, &answer).into();
                self.send_system(&reply.peer, envelope);
                None
            }
            other => {
                let why = format!("unknown system method `{other}`");
                crate::trace::remote_problem(&from.address, &why);
                if let Some(reply) = self.reply_channel(from, &envelope) {
                    reply.fail(&AskError::Remote(RemoteFailure::Codec(why)));
                }
                None
            }
        }
    }

    fn spawn_or_lookup(
        &self,
        system: &ActorSystem,
        method: &str,
        payload: &[u8],
    ) -> Result<Pid, String> {
        let spawn = |kind: &str, name, args| {
            let spawn = self
                .kinds
                .get(kind)
                .ok_or_else(|| format!("no actor kind `{kind}` is registered on this node"))?;
            spawn(system, name, args, self.codec)
        };
        match method {
            "$spawn" => {
                let (kind, name): (String, Option<String>) = postcard::from_bytes(payload)
                    .map_err(|e| format!("an unreadable spawn request: {e}"))?;
                return spawn(&kind, name, None);
            }
            "$spawn_with" => {
                let (kind, name, args): (String, Option<String>, Vec<u8>) =
                    postcard::from_bytes(payload)
                        .map_err(|e| format!("an unreadable spawn request: {e}"))?;
                return spawn(&kind, name, Some(&args));
            }
            _ => {}
        }
        let (kind, name): (String, String) = postcard::from_bytes(payload)
            .map_err(|e| format!("an unreadable lookup request: {e}"))?;
        match system.hosted_named(&name) {
            None => Err(format!("no actor named `{name}` on this node")),
            Some((pid, Some(hosted))) if hosted.kind() == kind => Ok(pid),
            Some((_, hosted)) => Err(format!(
                "the actor named `{name}` is not of kind `{kind}` (it is {})",
                hosted.map_or("not remote", |h| h.kind())
            )),
        }
    }

    fn undeliverable(&self, envelope: Wire, error: &SendError) {
        let failure = match error {
            SendError::TooLarge { size, limit } => RemoteFailure::TooLarge {
                size: *size,
                limit: *limit,
            },
            SendError::Overloaded { peer, .. } => RemoteFailure::Overloaded(peer.clone()),
            SendError::Unreachable { peer, reason } => RemoteFailure::Unreachable {
                node: peer.clone(),
                reason: reason.clone(),
            },
            _ => RemoteFailure::NodeDown(String::from("(this node is shutting down)")),
        };
        match envelope.kind {
            Kind::Ask => {
                if let Some(ask) = self.take_pending(envelope.correlation) {
                    ask.reply.fail(AskError::Remote(failure));
                }
            }
            Kind::Tell if !envelope.method.starts_with('$') => {
                self.dead_letter(
                    local_pid(envelope.target),
                    self.static_name(&envelope.method),
                );
            }
            // Replies and system messages to a node that is gone: nobody is left to tell.
            _ => crate::trace::remote_problem(&failure.to_string(), &envelope.method),
        }
    }

    fn endpoint_event(&self, event: EndpointEvent) {
        match event {
            EndpointEvent::Connected { peer } => {
                lock(&self.incarnations).insert(peer.address.as_str().into(), peer.incarnation);
                self.publish(SystemEvent::NodeConnected {
                    address: peer.address,
                    incarnation: peer.incarnation,
                });
            }
            EndpointEvent::Restarted { peer, previous } => {
                lock(&self.incarnations).insert(peer.address.as_str().into(), peer.incarnation);
                // Whatever lived on the old run is gone.
                let reason = StopReason::NodeDown(peer.address.clone());
                self.targets_at(&peer.address, Some(previous))
                    .into_iter()
                    .for_each(|t| t.died(reason.clone()));
                let error = AskError::Remote(RemoteFailure::NodeDown(peer.address.clone()));
                self.fail_pending(&peer.address, Some(previous), &error);
            }
            EndpointEvent::Disconnected { peer, reason } => {
                // Asks in flight on the lost stream (or whose replies were coming on it)
                // may never be answered: they fail now rather than wait without end.
                // Their requests may or may not have been handled (at most once).
                let error = AskError::Remote(RemoteFailure::Unreachable {
                    node: peer.address.clone(),
                    reason: format!("the connection was lost with the request in flight: {reason}"),
                });
                self.fail_pending(&peer.address, None, &error);
                self.publish(SystemEvent::NodeDisconnected {
                    address: peer.address,
                    reason,
                });
            }
            EndpointEvent::Down { address, reason } => {
                let stop = StopReason::NodeDown(address.clone());
                for target in self.watched_at(&address) {
                    target.node_down(stop.clone());
                }
                let error = AskError::Remote(RemoteFailure::NodeDown(address.clone()));
                self.fail_pending(&address, None, &error);
                self.publish(SystemEvent::NodeDown { address, reason });
            }
        }
    }

    /// The live targets at `address` (of run `incarnation`, or any).
    fn targets_at(&self, address: &str, incarnation: Option<u64>) -> Vec<Arc<Target>> {
        lock(&self.targets)
            .values()
            .filter_map(Weak::upgrade)
            .filter(|t| {
                &*t.address == address && incarnation.is_none_or(|i| i == t.pid.incarnation())
            })
            .collect()
    }

    fn watched_at(&self, address: &str) -> Vec<Arc<Target>> {
        lock(&self.watched)
            .values()
            .filter(|t| &*t.address == address)
            .cloned()
            .collect()
    }
}
