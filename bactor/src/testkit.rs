//! Testing actors: probes, a recording supervisor and a paused clock (feature `testkit`).
//!
//! - [`TestProbe`]: an actor that takes messages of one type, with assertions on what it
//!   received: [`expect_msg`](TestProbe::expect_msg),
//!   [`expect_no_msg_within`](TestProbe::expect_no_msg_within),
//!   [`fish_for_msg`](TestProbe::fish_for_msg), and death watch with
//!   [`expect_terminated`](TestProbe::expect_terminated) (Akka's `TestProbe`).
//! - [`TestSupervisor`]: spawns actors as its children under a strategy of your choice and
//!   records every failure of theirs and what it decided
//!   ([`expect_failure`](TestSupervisor::expect_failure),
//!   [`failures`](TestSupervisor::failures)).
//! - [`clock`]: tokio's paused clock, to test timers, receive timeouts and restart backoff
//!   without waiting: `#[tokio::test(start_paused = true)]`, then
//!   [`clock::advance`] and [`clock::timed`].
//!
//! Every expectation waits at most its timeout ([`DEFAULT_TIMEOUT`] unless set with
//! `with_timeout`) and panics, naming what it waited for and what came instead, as a test
//! assertion does. Under a paused clock that timeout is virtual time: waiting for a timer
//! further away than the timeout fails, so give such expectations a longer one.
//!
//! # Example
//!
//! ```
//! use bactor::prelude::*;
//! use bactor::testkit::TestProbe;
//!
//! #[actor]
//! struct Greeter {
//!     audit: bactor::testkit::ProbeRef<String>,
//! }
//!
//! #[actor]
//! impl Greeter {
//!     #[handler]
//!     async fn greet(&mut self, name: String) -> String {
//!         let _ = self.audit.tell(format!("greeted {name}")).await;
//!         format!("hello {name}")
//!     }
//! }
//!
//! # #[tokio::main] async fn main() {
//! let system = ActorSystem::new();
//! let mut audit = TestProbe::<String>::new(&system).await;
//! let audit_ref = audit.actor_ref();
//! let greeter = system.spawn(move || Greeter { audit: audit_ref.clone() }).await.unwrap();
//! assert_eq!(greeter.greet("ann".into()).await.unwrap(), "hello ann");
//! audit.expect_msg_eq("greeted ann".to_owned()).await;
//!
//! audit.watch(&greeter).await;
//! greeter.stop();
//! audit.expect_terminated(greeter.pid()).await;
//! system.shutdown().await;
//! # }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::{
    Actor, ActorError, ActorRef, ActorSystem, Context, Directive, Pid, Props, SpawnError,
    StopReason, Subscription, SupervisorEvent, SupervisorStrategy, SystemEvent, Tell, TellError,
};

/// How long an expectation waits unless told otherwise: 3 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// What a probe received: a message, or the death notice of an actor it watches.
#[derive(Debug)]
pub enum Received<M> {
    /// A message sent to the probe.
    Msg(M),
    /// A watched actor stopped.
    Terminated(Pid, StopReason),
}

type Control<M> = Box<dyn FnOnce(&mut Context<Probe<M>>) + Send>;

/// The messages of a [`Probe`]: yours, and the probe's own requests (watching).
pub enum ProbeMsg<M: Send + 'static> {
    /// A message for the test to receive.
    Msg(M),
    /// Runs on the probe's context (how [`TestProbe::watch`] watches).
    #[doc(hidden)]
    Control(Control<M>),
}

impl<M: fmt::Debug + Send + 'static> fmt::Debug for ProbeMsg<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeMsg::Msg(m) => f.debug_tuple("Msg").field(m).finish(),
            ProbeMsg::Control(_) => f.write_str("Control"),
        }
    }
}

/// The actor behind a [`TestProbe`]: it hands everything it receives to the test.
pub struct Probe<M> {
    to_test: mpsc::UnboundedSender<Received<M>>,
}

impl<M> fmt::Debug for Probe<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe").finish_non_exhaustive()
    }
}

impl<M: Send + 'static> Actor for Probe<M> {
    type Msg = ProbeMsg<M>;
    type Ref = ProbeRef<M>;

    async fn handle(
        &mut self,
        msg: ProbeMsg<M>,
        ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        match msg {
            // The test may have dropped its probe; the message has nowhere to go then.
            ProbeMsg::Msg(m) => drop(self.to_test.send(Received::Msg(m))),
            ProbeMsg::Control(f) => f(ctx),
        }
        Ok(())
    }

    async fn on_terminated(
        &mut self,
        _ctx: &mut Context<Self>,
        pid: Pid,
        reason: &StopReason,
    ) -> Result<(), ActorError> {
        drop(self.to_test.send(Received::Terminated(pid, reason.clone())));
        Ok(())
    }
}

/// A typed ref to a [`TestProbe`]: give it to the actors under test, which send it
/// messages of type `M`.
pub struct ProbeRef<M: Send + 'static>(ActorRef<Probe<M>>);

impl<M: Send + 'static> ProbeRef<M> {
    /// Sends `msg` to the probe (await it, like any tell).
    pub fn tell(&self, msg: M) -> Tell<'_, Probe<M>> {
        self.0.tell(ProbeMsg::Msg(msg))
    }

    /// Sends `msg` without waiting; an error when the probe is gone or full.
    pub fn try_tell(&self, msg: M) -> Result<(), TellError<M>> {
        self.0.try_tell(ProbeMsg::Msg(msg)).map_err(|e| {
            e.map(|m| match m {
                ProbeMsg::Msg(m) => m,
                // Only `Msg` was sent.
                ProbeMsg::Control(_) => unreachable_msg(),
            })
        })
    }

    /// A function that sends to the probe: for callbacks, `spawn_fn` actors, tasks.
    pub fn sink(&self) -> impl Fn(M) + Clone + Send + Sync + 'static {
        let probe = self.0.clone();
        move |msg| drop(probe.try_tell(ProbeMsg::Msg(msg)))
    }
}

fn unreachable_msg<M>() -> M {
    unreachable!("a probe's ref only sends `ProbeMsg::Msg`")
}

impl<M: Send + 'static> Clone for ProbeRef<M> {
    fn clone(&self) -> Self {
        ProbeRef(self.0.clone())
    }
}

impl<M: Send + 'static> fmt::Debug for ProbeRef<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProbeRef").field(&self.0.pid()).finish()
    }
}

impl<M: Send + 'static> std::ops::Deref for ProbeRef<M> {
    type Target = ActorRef<Probe<M>>;
    fn deref(&self) -> &ActorRef<Probe<M>> {
        &self.0
    }
}

impl<M: Send + 'static> AsRef<ActorRef<Probe<M>>> for ProbeRef<M> {
    fn as_ref(&self) -> &ActorRef<Probe<M>> {
        &self.0
    }
}

impl<M: Send + 'static> From<ActorRef<Probe<M>>> for ProbeRef<M> {
    fn from(r: ActorRef<Probe<M>>) -> Self {
        ProbeRef(r)
    }
}

/// An actor whose messages the test receives and asserts on (Akka's `TestProbe`).
///
/// Give [`actor_ref`](Self::actor_ref) (or [`sink`](ProbeRef::sink)) to the actors under
/// test; then expect what they send. [`watch`](Self::watch) an actor to expect its death
/// notice among the messages, in the order the runtime guarantees: after every message
/// that actor sent the probe.
///
/// ```
/// use std::time::Duration;
/// use bactor::prelude::*;
/// use bactor::testkit::TestProbe;
///
/// # #[tokio::main] async fn main() {
/// let system = ActorSystem::new();
/// let mut probe = TestProbe::<u32>::new(&system).await;
/// let send = probe.actor_ref().sink();
/// for n in [1, 2, 30, 4] {
///     send(n);
/// }
/// assert_eq!(probe.expect_msg().await, 1);
/// assert_eq!(probe.fish_for_msg(|n| *n > 10).await, 30);
/// probe.expect_msg_eq(4).await;
/// probe.expect_no_msg_within(Duration::from_millis(20)).await;
/// system.shutdown().await;
/// # }
/// ```
pub struct TestProbe<M: Send + 'static> {
    actor: ProbeRef<M>,
    rx: mpsc::UnboundedReceiver<Received<M>>,
    timeout: Duration,
}

impl<M: Send + 'static> fmt::Debug for TestProbe<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestProbe")
            .field("pid", &self.actor.pid())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<M: Send + 'static> TestProbe<M> {
    /// Spawns a probe in `system`.
    ///
    /// # Panics
    ///
    /// When the system is shutting down.
    pub async fn new(system: &ActorSystem) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let props = Props::from_producer(move || Probe {
            to_test: tx.clone(),
        });
        let actor = match system.spawn_props(props).await {
            Ok(actor) => actor,
            Err(e) => panic!("TestProbe::new: cannot spawn the probe: {e}"),
        };
        TestProbe {
            actor,
            rx,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How long each expectation waits (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The probe's ref, for the actors under test.
    pub fn actor_ref(&self) -> ProbeRef<M> {
        self.actor.clone()
    }

    /// The probe's pid.
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// The next thing received within `within`, or `None`.
    pub async fn receive_within(&mut self, within: Duration) -> Option<Received<M>> {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next message, within the probe's timeout.
    ///
    /// # Panics
    ///
    /// When none comes in time, or a death notice comes first.
    pub async fn expect_msg(&mut self) -> M {
        let timeout = self.timeout;
        self.expect_msg_within(timeout).await
    }

    /// The next message, within `within`.
    ///
    /// # Panics
    ///
    /// When none comes in time, or a death notice comes first.
    pub async fn expect_msg_within(&mut self, within: Duration) -> M {
        match self.receive_within(within).await {
            Some(Received::Msg(m)) => m,
            Some(Received::Terminated(pid, reason)) => {
                panic!("expected a message, but the death notice of {pid} came first ({reason:?})")
            }
            None => panic!("expected a message within {within:?}, but none came"),
        }
    }

    /// Expects the next message to equal `expected`.
    ///
    /// # Panics
    ///
    /// When another message, no message or a death notice comes.
    pub async fn expect_msg_eq(&mut self, expected: M)
    where
        M: PartialEq + fmt::Debug,
    {
        let got = self.expect_msg().await;
        assert_eq!(got, expected, "the probe received another message");
    }

    /// Expects nothing (no message, no death notice) for `within`.
    ///
    /// # Panics
    ///
    /// When something comes.
    pub async fn expect_no_msg_within(&mut self, within: Duration)
    where
        M: fmt::Debug,
    {
        if let Some(got) = self.receive_within(within).await {
            panic!("expected nothing for {within:?}, but received {got:?}");
        }
    }

    /// Receives messages until one matches `matches`, and returns it; the others are
    /// dropped (Akka's `fishForMessage`). The probe's timeout bounds the whole search.
    ///
    /// # Panics
    ///
    /// When no message matches in time.
    pub async fn fish_for_msg(&mut self, mut matches: impl FnMut(&M) -> bool) -> M {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut skipped = 0usize;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Received::Msg(m))) if matches(&m) => return m,
                Ok(Some(_)) => skipped += 1,
                Ok(None) | Err(_) => panic!(
                    "no matching message within {:?} ({skipped} others received)",
                    self.timeout
                ),
            }
        }
    }

    /// The next `n` messages, each within the probe's timeout.
    ///
    /// # Panics
    ///
    /// As [`expect_msg`](Self::expect_msg).
    pub async fn receive_n(&mut self, n: usize) -> Vec<M> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.expect_msg().await);
        }
        out
    }

    /// Watches `target`: its death notice will be received like a message, after every
    /// message it sent the probe. Returns once the watch is in place.
    ///
    /// # Panics
    ///
    /// When the probe is gone (its system shut down).
    pub async fn watch<R, B>(&self, target: &R)
    where
        R: AsRef<ActorRef<B>>,
        B: Actor,
    {
        let target = target.as_ref().clone();
        let (done, placed) = oneshot::channel();
        let watch: Control<M> = Box::new(move |ctx| {
            ctx.watch(&target);
            let _ = done.send(());
        });
        let sent = self.actor.0.tell(ProbeMsg::Control(watch)).await;
        if sent.is_err() || placed.await.is_err() {
            panic!("TestProbe::watch: the probe is gone");
        }
    }

    /// Expects the next thing received to be the death notice of `pid`, and returns why
    /// it stopped.
    ///
    /// # Panics
    ///
    /// When a message or another actor's notice comes first, or nothing in time.
    pub async fn expect_terminated(&mut self, pid: Pid) -> StopReason
    where
        M: fmt::Debug,
    {
        let timeout = self.timeout;
        match self.receive_within(timeout).await {
            Some(Received::Terminated(p, reason)) if p == pid => reason,
            Some(other) => panic!("expected the death notice of {pid}, but received {other:?}"),
            None => panic!("expected the death notice of {pid} within {timeout:?}, but none came"),
        }
    }
}

type SpawnJob = Box<
    dyn for<'a> FnOnce(&'a mut Context<Supervisor>) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>
        + Send,
>;

/// The actor behind a [`TestSupervisor`]: it spawns children on request.
#[derive(Debug)]
pub struct Supervisor;

impl Actor for Supervisor {
    type Msg = SpawnJob;
    type Ref = ActorRef<Self>;

    async fn handle(&mut self, job: SpawnJob, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        job(ctx).await;
        Ok(())
    }
}

/// A supervisor for tests: it spawns actors as its children, supervises them with the
/// strategy you give, and records every failure and directive.
///
/// ```
/// use bactor::prelude::*;
/// use bactor::testkit::TestSupervisor;
///
/// #[actor]
/// #[derive(Default)]
/// struct Flaky;
///
/// #[actor]
/// impl Flaky {
///     #[handler(fail_on_error)]
///     fn work(&mut self, ok: bool) -> Result<(), std::io::Error> {
///         if ok { Ok(()) } else { Err(std::io::Error::other("broken")) }
///     }
/// }
///
/// # #[tokio::main] async fn main() {
/// let system = ActorSystem::new();
/// let strategy = SupervisorStrategy::one_for_one().max_restarts(1);
/// let mut sup = TestSupervisor::new(&system, strategy).await;
/// let flaky = sup.spawn(Flaky::default).await.unwrap();
///
/// let _ = flaky.work(false).await;
/// let failure = sup.expect_directive(Directive::Restart).await;
/// assert_eq!(failure.child, flaky.pid());
/// assert_eq!(failure.message, Some("Flaky::work"));
///
/// let _ = flaky.work(false).await; // a second one exceeds `max_restarts(1)`
/// sup.expect_directive(Directive::Stop).await;
/// assert_eq!(sup.failures().len(), 2);
/// system.shutdown().await;
/// # }
/// ```
pub struct TestSupervisor {
    actor: ActorRef<Supervisor>,
    events: Subscription,
    children: Arc<Mutex<HashSet<Pid>>>,
    /// Every failure of a child, in order.
    recorded: Vec<SupervisorEvent>,
    /// How far `expect_*` has read `recorded`.
    read: usize,
    /// Restarts of children not yet expected.
    restarted: Vec<(Pid, Arc<ActorError>)>,
    timeout: Duration,
}

impl fmt::Debug for TestSupervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestSupervisor")
            .field("pid", &self.actor.pid())
            .field("failures", &self.recorded.len())
            .finish()
    }
}

impl TestSupervisor {
    /// A supervisor in `system` that supervises its children with `strategy`.
    ///
    /// # Panics
    ///
    /// When the system is shutting down.
    pub async fn new(system: &ActorSystem, strategy: SupervisorStrategy) -> Self {
        let props = Props::from_producer(|| Supervisor).supervisor(strategy);
        let actor = match system.spawn_props(props).await {
            Ok(actor) => actor,
            Err(e) => panic!("TestSupervisor::new: cannot spawn the supervisor: {e}"),
        };
        let me = actor.pid();
        let children: Arc<Mutex<HashSet<Pid>>> = Arc::default();
        let mine = children.clone();
        let events = system.events().subscribe_filtered(move |e| match e {
            SystemEvent::Supervisor(s) => s.supervisor == Some(me),
            SystemEvent::ActorRestarted { pid, .. } => {
                mine.lock().unwrap_or_else(|p| p.into_inner()).contains(pid)
            }
            _ => false,
        });
        TestSupervisor {
            actor,
            events,
            children,
            recorded: Vec::new(),
            read: 0,
            restarted: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How long each expectation waits (default [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The supervisor's pid (the children's parent).
    pub fn pid(&self) -> Pid {
        self.actor.pid()
    }

    /// Spawns a child made by `producer` (run again at each restart).
    pub async fn spawn<A: Actor>(
        &self,
        producer: impl Fn() -> A + Send + Sync + 'static,
    ) -> Result<A::Ref, SpawnError> {
        self.spawn_props(Props::from_producer(producer)).await
    }

    /// Spawns a child from `props`.
    pub async fn spawn_props<A: Actor>(&self, props: Props<A>) -> Result<A::Ref, SpawnError> {
        let (tx, rx) = oneshot::channel();
        let children = self.children.clone();
        let job: SpawnJob = Box::new(move |ctx| {
            Box::pin(async move {
                let before = ctx.children();
                let spawned = ctx.spawn_child_props(props).await;
                let new = ctx.children().into_iter().filter(|c| !before.contains(c));
                children
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(new);
                let _ = tx.send(spawned);
            })
        });
        if self.actor.tell(job).await.is_err() {
            return Err(SpawnError::ShuttingDown);
        }
        rx.await.unwrap_or(Err(SpawnError::ShuttingDown))
    }

    /// Files an event of the subscription.
    fn file(&mut self, event: SystemEvent) {
        match event {
            SystemEvent::Supervisor(s) => self.recorded.push(s),
            SystemEvent::ActorRestarted { pid, reason } => self.restarted.push((pid, reason)),
            _ => {}
        }
    }

    /// Files the next event, waiting until `deadline`; `false` when none came.
    async fn wait_event(&mut self, deadline: tokio::time::Instant) -> bool {
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(event)) => {
                self.file(event);
                true
            }
            Ok(None) | Err(_) => false,
        }
    }

    /// Every failure of a child seen so far (those already expected included), in order.
    pub fn failures(&mut self) -> &[SupervisorEvent] {
        while let Some(e) = self.events.try_recv() {
            self.file(e);
        }
        &self.recorded
    }

    /// The next failure of a child and what was decided, within the timeout.
    ///
    /// # Panics
    ///
    /// When no child fails in time.
    pub async fn expect_failure(&mut self) -> SupervisorEvent {
        let deadline = tokio::time::Instant::now() + self.timeout;
        self.failures();
        loop {
            if let Some(e) = self.recorded.get(self.read) {
                self.read += 1;
                return e.clone();
            }
            if !self.wait_event(deadline).await {
                panic!(
                    "expected a child to fail within {:?}, but none did",
                    self.timeout
                );
            }
        }
    }

    /// Expects the next failure to be decided with `directive`, and returns it.
    ///
    /// # Panics
    ///
    /// When another directive was decided, or no child fails in time.
    pub async fn expect_directive(&mut self, directive: Directive) -> SupervisorEvent {
        let e = self.expect_failure().await;
        assert_eq!(
            e.directive, directive,
            "the supervisor decided otherwise for the failure of {} ({})",
            e.child, e.reason
        );
        e
    }

    /// Expects no child to fail for `within` (besides the failures already expected).
    ///
    /// # Panics
    ///
    /// When one does.
    pub async fn expect_no_failure_within(&mut self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        self.failures();
        loop {
            if let Some(e) = self.recorded.get(self.read) {
                panic!("expected no failure, but {} failed: {}", e.child, e.reason);
            }
            if !self.wait_event(deadline).await {
                return;
            }
        }
    }

    /// Waits until the child `pid` has been restarted (after any backoff), and returns
    /// the failure that caused it.
    ///
    /// # Panics
    ///
    /// When it is not restarted within the timeout.
    pub async fn expect_restarted(&mut self, pid: Pid) -> Arc<ActorError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        self.failures();
        loop {
            if let Some(i) = self.restarted.iter().position(|(p, _)| *p == pid) {
                return self.restarted.remove(i).1;
            }
            if !self.wait_event(deadline).await {
                panic!(
                    "expected {pid} to restart within {:?}, but it did not",
                    self.timeout
                );
            }
        }
    }
}

/// Tokio's paused clock, for timers, receive timeouts and backoff.
///
/// Start the test with `#[tokio::test(start_paused = true)]` (or call [`pause`](clock::pause)): time
/// then stands still until the test advances it, or until every task waits, when tokio
/// jumps to the next timer. Time-based behaviour runs instantly and exactly.
///
/// ```
/// use std::time::Duration;
/// use bactor::prelude::*;
/// use bactor::testkit::{TestProbe, clock};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let system = ActorSystem::new();
/// let mut probe = TestProbe::<&'static str>::new(&system).await.with_timeout(Duration::from_secs(60));
/// let send = probe.actor_ref().sink();
/// tokio::spawn(async move {
///     tokio::time::sleep(Duration::from_secs(30)).await;
///     send("tick");
/// });
/// let (msg, took) = clock::timed(probe.expect_msg()).await;
/// assert_eq!(msg, "tick");
/// assert_eq!(took, Duration::from_secs(30)); // exactly, and at once
/// system.shutdown().await;
/// # }
/// ```
pub mod clock {
    use std::future::Future;
    use std::time::Duration;

    pub use tokio::time::pause;

    /// How many times [`settle`] lets the other tasks run.
    const SETTLE_ROUNDS: usize = 64;

    /// Lets every task that is ready run, through up to 64 hand-offs (an actor handling
    /// a message that makes another handle one, and so on), without moving the clock.
    pub async fn settle() {
        for _ in 0..SETTLE_ROUNDS {
            tokio::task::yield_now().await;
        }
    }

    /// Moves the paused clock `by` forward, fires the timers that fall due, and lets what
    /// they start run ([`settle`]).
    ///
    /// # Panics
    ///
    /// When the clock is not paused (tokio's rule).
    pub async fn advance(by: Duration) {
        tokio::time::advance(by).await;
        settle().await;
    }

    /// Runs `fut` and returns its output with how much (virtual) time it took.
    pub async fn timed<T>(fut: impl Future<Output = T>) -> (T, Duration) {
        let start = tokio::time::Instant::now();
        let out = fut.await;
        (out, start.elapsed())
    }
}
