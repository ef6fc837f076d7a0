//! Routers: one address for many actors of one type.
//!
//! A **pool** router spawns and supervises `n` routees from one producer (they are its
//! children: a failing routee is restarted by it, a routee that stops is replaced); a
//! **group** router routes over refs that exist already (it watches them: a routee that
//! stops is removed). Either way the router is addressed through the routees' own typed
//! ref: [`Router`] derefs to it, so `pool.work(n).await` is routed, and an ask is answered
//! by the routee that handled it.
//!
//! | routing | picks |
//! |---|---|
//! | [`RoundRobin`] | each routee in turn |
//! | [`Random`] | a routee at random |
//! | [`ConsistentHash`] | the routee owning the message's key on a hash ring (`#[handler(route_key = arg)]`; a stable FNV-1a hash, never std's `DefaultHasher`); messages without a key go round-robin |
//!
//! Broadcast is its own handle, [`Broadcast`]: it sends one message *per routee*, built
//! by a closure from each routee's ref, so messages need not be `Clone`, and it offers
//! tells only: a broadcast ask (which routee's reply would it be?) does not compile.
//!
//! Messages of `#[handler(priority = ..)]` handlers wait in the router's mailbox in
//! arrival order; each routee's priority mailbox then orders what reaches it. A message to a routee that has just stopped is routed to another; with no
//! routee left it is a dead letter and its asker gets [`AskError::Dead`]. Management
//! calls return once the router has applied them, or [`RouterError::Stopped`]. Should the
//! router itself fail and restart, a pool starts over with fresh routees and a group with
//! the refs it was made with.
//!
//! # Example
//!
//! ```
//! use bactor::prelude::*;
//! use bactor::router::RoundRobin;
//!
//! #[actor]
//! #[derive(Default)]
//! struct Worker {
//!     done: u32,
//! }
//!
//! #[actor]
//! impl Worker {
//!     #[handler]
//!     fn work(&mut self, ctx: &mut Context<Self>, n: u32) -> (Pid, u32) {
//!         self.done += 1;
//!         (ctx.pid(), n * 2)
//!     }
//! }
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = ActorSystem::new();
//! let pool = system.spawn_pool(3, Worker::default, RoundRobin).await?;
//! let mut seen = std::collections::HashSet::new();
//! for n in 0..6 {
//!     let (routee, twice) = pool.work(n).await?; // routed; the routee replies
//!     assert_eq!(twice, n * 2);
//!     seen.insert(routee);
//! }
//! assert_eq!(seen.len(), 3);
//! pool.resize(5).await?;
//! assert_eq!(pool.routees().len(), 5);
//! # system.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::Pid;
use crate::actor::Actor;
use crate::actor_ref::ActorRef;
use crate::context::Context;
use crate::error::{ActorError, AskError, SpawnError, StopReason, TellError};
use crate::mailbox::Letter;
use crate::props::{Producer, Props};
use crate::system::{ActorSystem, SystemMsg};

/// A pool routee the router no longer routes to: it finishes what it has queued, then
/// stops (the router does not wait for it).
fn retire<A: Actor>(routee: ActorRef<A>) {
    tokio::spawn(async move { routee.stop_gracefully().await });
}

/// How a router picks the routee of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Each routee in turn.
    RoundRobin,
    /// A routee at random.
    Random,
    /// The routee owning the message's key (`#[handler(route_key = arg)]`) on a hash ring;
    /// messages without a key go round-robin.
    ConsistentHash,
}

pub use Routing::{ConsistentHash, Random, RoundRobin};

/// Virtual nodes per routee on the consistent-hash ring.
const VNODES: u64 = 64;

/// Why a router management call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouterError {
    /// The router has stopped.
    Stopped,
    /// Only a pool router spawns routees: resize a group by adding and removing refs.
    NotAPool,
    /// A routee could not be spawned.
    Spawn(SpawnError),
}

impl fmt::Display for RouterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouterError::Stopped => f.write_str("the router has stopped"),
            RouterError::NotAPool => f.write_str("only a pool router can be resized"),
            RouterError::Spawn(e) => write!(f, "a routee could not be spawned: {e}"),
        }
    }
}

impl std::error::Error for RouterError {}

enum Command<A: Actor> {
    /// Nothing to do: answered once the commands before it are applied.
    Sync(oneshot::Sender<()>),
    Add(ActorRef<A>, oneshot::Sender<()>),
    Remove(Pid, oneshot::Sender<bool>),
    Resize(usize, oneshot::Sender<Result<(), RouterError>>),
}

/// What a router and its handles share: the routees (a snapshot the router keeps up to
/// date) and the management commands waiting for the router.
struct Shared<A: Actor> {
    routees: Mutex<Vec<ActorRef<A>>>,
    commands: Mutex<VecDeque<Command<A>>>,
}

impl<A: Actor> Shared<A> {
    fn routees(&self) -> std::sync::MutexGuard<'_, Vec<ActorRef<A>>> {
        // Every update is one assignment: a panic cannot leave it half-done.
        self.routees.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn commands(&self) -> std::sync::MutexGuard<'_, VecDeque<Command<A>>> {
        self.commands.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where the routees come from.
enum Source<A: Actor> {
    Pool { size: usize, props: Box<Props<A>> },
    Group(Vec<ActorRef<A>>),
}

/// The actor behind a [`Router`]: it takes the routees' messages and forwards each,
/// reply slot included, to one routee.
pub struct RouterActor<A: Actor> {
    routing: Routing,
    source: Arc<Source<A>>,
    routees: Vec<ActorRef<A>>,
    next: usize,
    rng: u64,
    /// `(hash, routee index)`, sorted: the consistent-hash ring.
    ring: Vec<(u64, usize)>,
    shared: Arc<Shared<A>>,
}

impl<A: Actor> fmt::Debug for RouterActor<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterActor")
            .field("routee", &std::any::type_name::<A>())
            .field("routing", &self.routing)
            .field("routees", &self.routees.len())
            .finish()
    }
}

impl<A: Actor> RouterActor<A> {
    fn is_pool(&self) -> bool {
        matches!(*self.source, Source::Pool { .. })
    }

    fn spawn_routee(&mut self, ctx: &mut Context<Self>) -> Result<(), SpawnError> {
        if let Source::Pool { props, .. } = &*self.source {
            let child = ctx.spawn_child_ref((**props).clone())?;
            self.routees.push(child);
        }
        Ok(())
    }

    /// Publishes the routees to the handles and rebuilds the ring.
    fn changed(&mut self) {
        *self.shared.routees() = self.routees.clone();
        if self.routing == Routing::ConsistentHash {
            self.ring.clear();
            for (i, r) in self.routees.iter().enumerate() {
                let pid = r.pid();
                for v in 0..VNODES {
                    let h = crate::__private::stable_hash(&(
                        pid.node(),
                        pid.id(),
                        pid.incarnation(),
                        v,
                    ));
                    self.ring.push((h, i));
                }
            }
            self.ring.sort_unstable();
        }
    }

    /// Applies the management commands that are waiting.
    fn apply(&mut self, ctx: &mut Context<Self>) {
        let commands = std::mem::take(&mut *self.shared.commands());
        for command in commands {
            match command {
                Command::Sync(done) => {
                    let _ = done.send(());
                }
                Command::Add(r, done) => {
                    if !self.routees.iter().any(|x| x.pid() == r.pid()) {
                        ctx.watch(&r);
                        self.routees.push(r);
                    }
                    self.changed();
                    let _ = done.send(());
                }
                Command::Remove(pid, done) => {
                    let found = self.remove(pid, ctx);
                    self.changed();
                    let _ = done.send(found);
                }
                Command::Resize(n, done) => {
                    let outcome = if self.is_pool() {
                        let mut outcome = Ok(());
                        while self.routees.len() < n {
                            if let Err(e) = self.spawn_routee(ctx) {
                                outcome = Err(RouterError::Spawn(e));
                                break;
                            }
                        }
                        while self.routees.len() > n {
                            if let Some(r) = self.routees.pop() {
                                retire(r);
                            }
                        }
                        outcome
                    } else {
                        Err(RouterError::NotAPool)
                    };
                    // Published before the answer: the caller sees the new routees.
                    self.changed();
                    let _ = done.send(outcome);
                }
            }
        }
    }

    /// Takes `pid` out of the routees (a pool stops it after what it has queued).
    fn remove(&mut self, pid: Pid, ctx: &mut Context<Self>) -> bool {
        let Some(i) = self.routees.iter().position(|r| r.pid() == pid) else {
            return false;
        };
        let r = self.routees.remove(i);
        if self.is_pool() {
            retire(r);
        } else {
            ctx.unwatch(&r);
        }
        true
    }

    /// Routee `i` stopped by itself: a pool replaces it, a group forgets it.
    fn lost(&mut self, i: usize, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.routees.remove(i);
        let replaced = if self.is_pool() && !ctx.stopping {
            self.spawn_routee(ctx).map_err(ActorError::msg)
        } else {
            Ok(())
        };
        self.changed();
        replaced
    }

    fn pick(&mut self, msg: &A::Msg) -> usize {
        let n = self.routees.len();
        match self.routing {
            Routing::ConsistentHash if !self.ring.is_empty() => match A::route_key(msg) {
                Some(key) => {
                    let at = self.ring.partition_point(|(h, _)| *h < key);
                    self.ring[at % self.ring.len()].1
                }
                None => self.round_robin(n),
            },
            Routing::Random => {
                // xorshift64*: fast, and good enough to spread load.
                self.rng ^= self.rng >> 12;
                self.rng ^= self.rng << 25;
                self.rng ^= self.rng >> 27;
                (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % n
            }
            _ => self.round_robin(n),
        }
    }

    fn round_robin(&mut self, n: usize) -> usize {
        let i = self.next % n;
        self.next = self.next.wrapping_add(1);
        i
    }
}

impl<A: Actor> Actor for RouterActor<A> {
    type Msg = A::Msg;
    type Ref = ActorRef<Self>;

    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.routees.clear();
        match &*self.source {
            Source::Pool { size, .. } => {
                for _ in 0..*size {
                    self.spawn_routee(ctx).map_err(ActorError::msg)?;
                }
            }
            Source::Group(refs) => {
                for r in refs.clone() {
                    ctx.watch(&r);
                    self.routees.push(r);
                }
            }
        }
        self.changed();
        self.apply(ctx);
        Ok(())
    }

    async fn handle(&mut self, msg: A::Msg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let mut msg = msg;
        loop {
            if self.routees.is_empty() {
                ctx.refuse(msg, AskError::Dead);
                return Ok(());
            }
            let i = self.pick(&msg);
            let lane = &self.routees[i].inner.user;
            // The message goes on with its headers.
            let refused = match lane.try_send(Letter::new(msg, ctx.headers()), None) {
                Ok(()) => return Ok(()),
                // A full routee slows the router down (and its senders with it).
                Err(TellError::Full(env)) => match lane.send(env, None).await {
                    Ok(()) => return Ok(()),
                    Err(env) => env,
                },
                // Send middleware is the router's own; its lane to a routee has none.
                Err(TellError::Dead(env) | TellError::Refused(env, _)) => env,
            };
            // The routee stopped (its notice is on the way): route to another.
            msg = match refused {
                Letter::Msg(back) => back,
                Letter::Headed(headed) => headed.0,
                Letter::Stop => return Ok(()),
            };
            self.lost(i, ctx)?;
        }
    }

    async fn on_terminated(
        &mut self,
        ctx: &mut Context<Self>,
        pid: Pid,
        _reason: &StopReason,
    ) -> Result<(), ActorError> {
        // A routee the router removed itself is no longer there: nothing to do.
        match self.routees.iter().position(|r| r.pid() == pid) {
            Some(i) => self.lost(i, ctx),
            None => Ok(()),
        }
    }

    async fn post_stop(&mut self, _ctx: &mut Context<Self>) {
        // Commands still waiting are answered `Stopped` (their senders are dropped).
        self.shared.commands().clear();
        self.shared.routees().clear();
    }

    async fn poked(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.apply(ctx);
        Ok(())
    }

    fn message_name(msg: &A::Msg) -> &'static str {
        A::message_name(msg)
    }

    fn refuse(msg: A::Msg, error: AskError) {
        A::refuse(msg, error);
    }
}

/// A router: management of the routees, and (through `Deref`) the routees' own typed
/// ref, whose messages it routes. Made by [`ActorSystem::spawn_pool`] and
/// [`ActorSystem::spawn_group`]; see the [module docs](self).
pub struct Router<A: Actor> {
    typed: A::Ref,
    router: ActorRef<RouterActor<A>>,
    shared: Arc<Shared<A>>,
}

impl<A: Actor> Clone for Router<A> {
    fn clone(&self) -> Self {
        Router {
            typed: self.typed.clone(),
            router: self.router.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<A: Actor> fmt::Debug for Router<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("pid", &self.router.pid())
            .field("routees", &self.shared.routees().len())
            .finish()
    }
}

impl<A: Actor> Deref for Router<A> {
    type Target = A::Ref;

    fn deref(&self) -> &A::Ref {
        &self.typed
    }
}

impl<A: Actor> Router<A> {
    /// The routees' typed ref, routed: hand it to code that expects one actor.
    pub fn to_ref(&self) -> A::Ref {
        self.typed.clone()
    }

    /// The router's own ref (its pid, `stop`, `stopped`). Stopping a pool router stops
    /// its routees first.
    pub fn router(&self) -> &ActorRef<RouterActor<A>> {
        &self.router
    }

    /// The current routees' pids.
    pub fn routees(&self) -> Vec<Pid> {
        self.shared.routees().iter().map(ActorRef::pid).collect()
    }

    async fn command<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command<A>,
    ) -> Result<T, RouterError> {
        let (tx, rx) = oneshot::channel();
        self.shared.commands().push_back(make(tx));
        if self.router.inner.sys.send(SystemMsg::Poke).is_err() {
            self.shared.commands().clear();
            return Err(RouterError::Stopped);
        }
        // Answered by the router, or `Stopped` when it stops first (a command sent while
        // it was stopping is never applied).
        tokio::select! {
            biased;
            answer = rx => answer.map_err(|_| RouterError::Stopped),
            () = self.router.stopped() => Err(RouterError::Stopped),
        }
    }

    /// Adds a routee (to a pool or a group): it is watched, and removed when it stops.
    pub async fn add_routee(&self, routee: &impl AsRef<ActorRef<A>>) -> Result<(), RouterError> {
        let r = routee.as_ref().clone();
        self.command(|tx| Command::Add(r, tx)).await
    }

    /// Removes a routee; `false` if it was not one. A pool stops it after the messages it
    /// has queued.
    pub async fn remove_routee(&self, pid: Pid) -> Result<bool, RouterError> {
        self.command(|tx| Command::Remove(pid, tx)).await
    }

    /// Grows or shrinks a pool to `n` routees (the ones removed finish what they have
    /// queued, then stop). [`RouterError::NotAPool`] for a group.
    pub async fn resize(&self, n: usize) -> Result<(), RouterError> {
        self.command(|tx| Command::Resize(n, tx)).await?
    }
}

/// Broadcasts to every routee of a router: tells only, one message per routee built by a
/// closure from that routee's ref (so messages need not be `Clone`).
///
/// ```
/// use bactor::prelude::*;
///
/// #[actor]
/// #[derive(Default)]
/// struct Cache {
///     cleared: u32,
/// }
///
/// #[actor]
/// impl Cache {
///     #[handler]
///     fn clear(&mut self) {
///         self.cleared += 1;
///     }
///
///     #[handler]
///     fn cleared(&self) -> u32 {
///         self.cleared
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let system = ActorSystem::new();
/// let caches = system.spawn_broadcast_pool(3, Cache::default).await?;
/// assert_eq!(caches.tell(|c| c.clear()).await, 3);
/// for c in caches.routee_refs() {
///     assert_eq!(c.cleared().await?, 1);
/// }
/// # system.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Broadcast<A: Actor> {
    router: Router<A>,
}

impl<A: Actor> Clone for Broadcast<A> {
    fn clone(&self) -> Self {
        Broadcast {
            router: self.router.clone(),
        }
    }
}

impl<A: Actor> fmt::Debug for Broadcast<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Broadcast").field(&self.router).finish()
    }
}

impl<A: Actor> Broadcast<A> {
    /// Tells every routee the message `make` builds from its ref (a request, sent as a
    /// tell); returns how many took it.
    pub async fn tell<R, S>(&self, make: impl Fn(&A::Ref) -> crate::Request<'_, A, R, S>) -> usize {
        let routees: Vec<A::Ref> = self
            .router
            .shared
            .routees()
            .iter()
            .map(ActorRef::typed)
            .collect();
        let mut sent = 0;
        for r in &routees {
            if make(r).tell().await.is_ok() {
                sent += 1;
            }
        }
        sent
    }

    /// The routees' refs, each addressed directly.
    pub fn routee_refs(&self) -> Vec<A::Ref> {
        self.router
            .shared
            .routees()
            .iter()
            .map(ActorRef::typed)
            .collect()
    }

    /// Management: the router behind the broadcast (its routees, resize, add, remove).
    /// Its `Deref` to a typed ref routes round-robin.
    pub fn router(&self) -> &Router<A> {
        &self.router
    }
}

impl ActorSystem {
    /// Spawns a pool router: `n` routees made by `producer`, children of the router, which
    /// restarts a failing one and replaces one that stops. See [`router`](crate::router).
    pub async fn spawn_pool<A: Actor>(
        &self,
        n: usize,
        producer: impl Fn() -> A + Send + Sync + 'static,
        routing: Routing,
    ) -> Result<Router<A>, SpawnError> {
        self.spawn_pool_props(n, Props::from_producer(producer), routing)
            .await
    }

    /// [`spawn_pool`](Self::spawn_pool) with the routees' [`Props`] (mailbox, throughput;
    /// a name is ignored: routees are not named).
    pub async fn spawn_pool_props<A: Actor>(
        &self,
        n: usize,
        mut props: Props<A>,
        routing: Routing,
    ) -> Result<Router<A>, SpawnError> {
        props.name = None;
        self.spawn_router(
            Source::Pool {
                size: n,
                props: Box::new(props),
            },
            routing,
        )
        .await
    }

    /// Spawns a group router over existing actors, which it watches: one that stops is
    /// removed. See [`router`](crate::router).
    pub async fn spawn_group<A: Actor, R: AsRef<ActorRef<A>>>(
        &self,
        routees: impl IntoIterator<Item = R>,
        routing: Routing,
    ) -> Result<Router<A>, SpawnError> {
        let refs = routees.into_iter().map(|r| r.as_ref().clone()).collect();
        self.spawn_router(Source::Group(refs), routing).await
    }

    /// Spawns a pool of `n` routees for broadcasting (see [`Broadcast`]).
    pub async fn spawn_broadcast_pool<A: Actor>(
        &self,
        n: usize,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<Broadcast<A>, SpawnError> {
        let router = self.spawn_pool(n, producer, RoundRobin).await?;
        Ok(Broadcast { router })
    }

    async fn spawn_router<A: Actor>(
        &self,
        source: Source<A>,
        routing: Routing,
    ) -> Result<Router<A>, SpawnError> {
        let shared = Arc::new(Shared {
            routees: Mutex::new(Vec::new()),
            commands: Mutex::new(VecDeque::new()),
        });
        let source = Arc::new(source);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            | 1;
        let producer: Producer<RouterActor<A>> = {
            let shared = Arc::clone(&shared);
            Producer::new(move || RouterActor {
                routing,
                source: Arc::clone(&source),
                routees: Vec::new(),
                next: 0,
                rng: seed,
                ring: Vec::new(),
                shared: Arc::clone(&shared),
            })
        };
        let router: ActorRef<RouterActor<A>> = self.spawn_props(Props::from_arc(producer)).await?;
        // Wait until the router has started (made or watched its routees), so that
        // `routees()` is right as soon as this returns.
        let typed = ActorRef::<A>::from_inner(Arc::clone(&router.inner)).typed();
        let out = Router {
            typed,
            router,
            shared,
        };
        out.command(Command::Sync)
            .await
            .map_err(|_| SpawnError::ShuttingDown)?;
        Ok(out)
    }
}
