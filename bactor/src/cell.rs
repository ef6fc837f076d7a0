//! The task that runs one actor: start, the message loop, failure and supervision, restart,
//! and the stop sequence.
//!
//! The task moves between four steps:
//!
//! ```text
//!            start
//!              |
//!   +------> Serve ----- stop ----------------------------> Stop --> finish
//!   |          |  \                                           ^
//!   |       failure  `-- Restart from the supervisor --.      |
//!   |          v                                        v     |
//!   +-- Resume Fail --- Restart (after backoff) ---> Restart -+
//!              |                                        |
//!              `-------- Stop ---------------------------`--> Stop
//! ```
//!
//! While failed, the actor handles only its system lane; user messages wait in the mailbox.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use crate::Pid;
use crate::actor::Actor;
use crate::behavior::Admit;
use crate::context::Context;
use crate::error::{ActorError, StopReason};
use crate::events::SystemEvent;
use crate::mailbox::{Letter, UserRx};
use crate::props::Producer;
use crate::supervision::{Directive, RestartStats, Strategy, SupervisorEvent};
use crate::system::{Decision, Parent, SysTx, SystemMsg};
use crate::trace::{self, traced};

pin_project_lite::pin_project! {
    /// Runs a future, turning a panic inside `poll` into an error.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        fut: F,
    }
}

pub(crate) fn catch_unwind<F: Future>(fut: F) -> CatchUnwind<F> {
    CatchUnwind { fut }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let fut = self.project().fut;
        // The future is dropped right after a panic and never polled again, so no broken
        // invariant inside it can be observed.
        match crate::panics::in_actor(|| {
            std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx)))
        }) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Flattens a hook's or handler's outcome: its own error or a caught panic.
fn failure<T>(r: Result<Result<T, ActorError>, Box<dyn Any + Send>>) -> Result<T, ActorError> {
    match r {
        Ok(inner) => inner,
        Err(panic) => Err(ActorError::from_panic(panic)),
    }
}

/// Runs the receive layers' `before`; the time the handler starts, or the rejection.
#[cold]
#[inline(never)]
fn receive_before<A: Actor>(
    layers: &[Arc<dyn crate::middleware::ReceiveMiddleware>],
    timed: bool,
    actor: Pid,
    name: &'static str,
    msg: &A::Msg,
    headers: &crate::Headers,
) -> Result<Option<std::time::Instant>, crate::Rejection> {
    let incoming = crate::middleware::Incoming {
        actor,
        actor_type: std::any::type_name::<A>(),
        name,
        msg,
        headers,
    };
    match crate::middleware::before_all(layers, &incoming) {
        None => Ok(timed.then(std::time::Instant::now)),
        Some(reason) => Err(crate::Rejection::Refused {
            message: name,
            reason,
        }),
    }
}

/// Runs the receive layers' `after`, innermost first.
#[cold]
#[inline(never)]
fn receive_after<A: Actor>(
    layers: &[Arc<dyn crate::middleware::ReceiveMiddleware>],
    actor: Pid,
    name: &'static str,
    outcome: &Result<(), ActorError>,
    started: Option<std::time::Instant>,
    headers: &crate::Headers,
) {
    let handled = crate::middleware::Handled {
        actor,
        actor_type: std::any::type_name::<A>(),
        name,
        headers,
        outcome: outcome.as_ref().map(|_| ()),
        elapsed: started.map_or(Duration::ZERO, |s| s.elapsed()),
    };
    for layer in layers.iter().rev() {
        layer.after(&handled);
    }
}

/// Where the actor's task goes next.
enum Step {
    Serve,
    Fail {
        error: Arc<ActorError>,
        message: Option<&'static str>,
    },
    Restart {
        delay: Duration,
        cause: Arc<ActorError>,
    },
    Stop(StopReason),
}

impl Step {
    fn fail(error: ActorError, message: Option<&'static str>) -> Step {
        Step::Fail {
            error: Arc::new(error),
            message,
        }
    }
}

enum Next {
    /// A system message is waiting (taken at the top of the loop: the task does not keep
    /// one across an await).
    Sys,
    User,
    Closed,
    /// No user message for the receive timeout.
    Idle,
}

struct Watcher {
    pid: Pid,
    sys: SysTx,
}

/// What few actors need: made at first use.
#[derive(Default)]
struct Rare {
    /// By full pid: watchers on other nodes may share an id with local ones.
    watchers: HashMap<Pid, Watcher>,
    /// Failure history when the guardian supervises this actor (top-level actors).
    guardian_stats: RestartStats,
    /// Terminated notices that arrived while the actor could not run hooks.
    deferred: VecDeque<(Pid, StopReason)>,
    /// Children whose failure this actor escalated; resumed if this actor is resumed.
    escalated: Vec<Pid>,
    /// Who waits for the first start's outcome.
    on_started: Option<StartNotice>,
    /// Terminated notices waiting for the user messages queued when they arrived (what
    /// the dead actor sent is among them), oldest first.
    notices: VecDeque<Notice>,
    /// User messages taken from the lane while notices wait: what `Notice::due` counts.
    served: u64,
}

/// A terminated notice held until `served` reaches `due`.
struct Notice {
    due: u64,
    pid: Pid,
    reason: StopReason,
}

/// Where the outcome of an actor's first start goes.
pub(crate) type StartNotice = tokio::sync::oneshot::Sender<Result<(), Arc<ActorError>>>;

pub(crate) struct Cell<A: Actor> {
    producer: Producer<A>,
    ctx: Context<A>,
    user: UserRx<A::Msg>,
    sys: crate::syslane::SysReceiver,
    /// A message a `Mailbox` lane handed out when the actor was woken (a channel lane
    /// keeps its messages until `try_pop`).
    batch: Vec<Letter<A::Msg>>,
    /// Watchers, deferred notices, escalations: made at first use (152 bytes that most
    /// actors never need).
    rare: Option<Box<Rare>>,
    /// The receive timeout's timer, made the first time one is set.
    idle_timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Receive middleware, outermost first; `None` when there is none.
    pub(crate) receive: crate::middleware::ReceiveLayers,
}

impl<A: Actor> Cell<A> {
    pub(crate) fn new(
        producer: Producer<A>,
        ctx: Context<A>,
        user: UserRx<A::Msg>,
        sys: crate::syslane::SysReceiver,
    ) -> Self {
        Cell {
            producer,
            ctx,
            user,
            sys,
            batch: Vec::new(),
            rare: None,
            idle_timer: None,
            receive: None,
        }
    }

    fn pid(&self) -> Pid {
        self.ctx.pid()
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }

    fn watch_me(&mut self, watcher: Pid, sys: SysTx) {
        self.rare_mut()
            .watchers
            .insert(watcher, Watcher { pid: watcher, sys });
    }

    fn unwatch_me(&mut self, watcher: Pid) {
        if let Some(rare) = &mut self.rare {
            rare.watchers.remove(&watcher);
        }
    }

    fn publish(&self, event: SystemEvent) {
        #[cfg(feature = "tracing")]
        if let SystemEvent::Supervisor(e) = &event {
            trace::decided(e);
        }
        self.ctx.system().events().publish(event);
    }
}

/// The actor's task. Not an `async fn`: that would copy `cell` from its argument into a
/// local and keep both in the task; captured by the block, it is stored once.
#[allow(clippy::manual_async_fn)]
pub(crate) fn run<A: Actor>(mut cell: Cell<A>) -> impl Future<Output = ()> + Send {
    async move {
        let mut actor: Option<A> = None;
        // Every step but serving is boxed: the task keeps only the serve loop's state
        // inline, and an idle actor pays for nothing else.
        let mut step = Box::pin(cell.start(&mut actor)).await;
        let reason = loop {
            // Everything but serving is boxed, until the actor serves again or stops.
            match step {
                // Moved out and dropped here, so that no step is kept across the serve
                // loop (and no box is made just to say "serve").
                serve @ Step::Serve => drop(serve),
                other => {
                    if let Err(reason) = Box::pin(cell.advance(&mut actor, other)).await {
                        break reason;
                    }
                }
            }
            step = match actor.as_mut() {
                Some(a) => cell.serve(a).await,
                None => Step::Stop(StopReason::Stopped),
            };
        };
        Box::pin(cell.finish(actor, reason)).await;
    }
}

impl<A: Actor> Cell<A> {
    /// Makes the first instance and runs `pre_start`; tells a
    /// [`spawn_started`](crate::ActorSystem::spawn_started) waiting for it how it went.
    async fn start(&mut self, actor: &mut Option<A>) -> Step {
        let outcome = self.first_start(actor).await.map_err(Arc::new);
        if let Some(notice) = self.rare.as_mut().and_then(|r| r.on_started.take()) {
            let _ = notice.send(outcome.clone());
        }
        match outcome {
            Ok(()) => Step::Serve,
            Err(error) => Step::Fail {
                error,
                message: None,
            },
        }
    }

    async fn first_start(&mut self, actor: &mut Option<A>) -> Result<(), ActorError> {
        let a = match std::panic::catch_unwind(AssertUnwindSafe(|| self.producer.make())) {
            Ok(a) => actor.insert(a),
            Err(panic) => return Err(ActorError::from_panic(panic)),
        };
        failure(catch_unwind(a.recover(&mut self.ctx)).await)?;
        let pid = self.ctx.pid();
        let hook = traced!(
            catch_unwind(a.pre_start(&mut self.ctx)),
            "bactor.hook",
            pid,
            std::any::type_name::<A>(),
            "pre_start"
        );
        failure(hook.await)?;
        trace::started(self.pid(), std::any::type_name::<A>());
        self.publish(SystemEvent::ActorStarted {
            pid: self.pid(),
            type_name: std::any::type_name::<A>(),
        });
        Ok(())
    }

    /// Whoever waits for the first start ([`ActorSystem::spawn_started`]).
    ///
    /// [`ActorSystem::spawn_started`]: crate::ActorSystem::spawn_started
    pub(crate) fn notify_started(&mut self, notice: StartNotice) {
        self.rare_mut().on_started = Some(notice);
    }

    /// Takes `step` and the ones it leads to (supervision, restarts) until the actor is
    /// to serve (`Ok`) or stop (`Err` with the reason).
    async fn advance(&mut self, actor: &mut Option<A>, mut step: Step) -> Result<(), StopReason> {
        loop {
            step = match step {
                Step::Serve => return Ok(()),
                Step::Fail { error, message } => {
                    self.supervise(error, message, actor.is_some()).await
                }
                Step::Restart { delay, cause } => self.restart(actor, delay, cause).await,
                Step::Stop(reason) => return Err(reason),
            };
        }
    }

    /// The message loop. Returns when the actor fails, is told to restart, or stops.
    async fn serve(&mut self, actor: &mut A) -> Step {
        while let Some((pid, reason)) = self.rare.as_mut().and_then(|r| r.deferred.pop_front()) {
            if let Err(e) = Box::pin(self.notify_terminated(actor, pid, &reason)).await {
                return Step::fail(e, None);
            }
        }
        let mut handled = 0usize;
        loop {
            // The system lane is always served first.
            if !self.sys.is_empty() {
                if let Some(msg) = self.sys.try_recv()
                    && let Some(step) = Box::pin(self.on_system(Some(&mut *actor), msg)).await
                {
                    return step;
                }
                continue;
            }
            if handled >= self.ctx.throughput as usize {
                // End of this turn: let the other tasks on this thread run.
                handled = 0;
                tokio::task::yield_now().await;
                continue;
            }
            // Terminated notices come after the messages queued when they arrived.
            if self.rare.as_ref().is_some_and(|r| !r.notices.is_empty())
                && let Err(e) = Box::pin(self.due_notices(actor, false)).await
            {
                return Step::fail(e, None);
            }
            // Messages taken out of the stash come before the mailbox: they arrived first.
            // The lane's messages are taken one at a time while it has one, without a
            // poll.
            // (One expression, not a binding: a binding of the `Option` would be kept in
            // the task across the idle wait below, 128 bytes more per actor.)
            let Some(env) = self.ctx.next_unstashed().or_else(|| {
                let env = self.batch.pop().or_else(|| self.user.try_pop());
                if env.is_some()
                    && let Some(rare) = self.rare.as_mut()
                    && !rare.notices.is_empty()
                {
                    rare.served += 1;
                }
                env
            }) else {
                // Nothing queued: every message a held notice waited for was handled.
                if self.rare.as_ref().is_some_and(|r| !r.notices.is_empty()) {
                    if let Err(e) = Box::pin(self.due_notices(actor, true)).await {
                        return Step::fail(e, None);
                    }
                    continue;
                }
                // Idle from now: the receive timeout, if any, counts from here.
                let idle = match self.ctx.receive_timeout() {
                    Some(timeout) => {
                        let deadline = tokio::time::Instant::now() + timeout;
                        match &mut self.idle_timer {
                            Some(timer) => timer.as_mut().reset(deadline),
                            None => {
                                self.idle_timer =
                                    Some(Box::pin(tokio::time::sleep_until(deadline)));
                            }
                        }
                        self.idle_timer.as_mut()
                    }
                    None => None,
                };
                let (sys, user, batch) = (&mut self.sys, &mut self.user, &mut self.batch);
                let mut idle = idle;
                let next = poll_fn(|cx| {
                    if sys.poll_ready(cx).is_ready() {
                        return Poll::Ready(Next::Sys);
                    }
                    match user.poll_next(cx, batch) {
                        Poll::Ready(false) => return Poll::Ready(Next::Closed),
                        Poll::Ready(true) => return Poll::Ready(Next::User),
                        Poll::Pending => {}
                    }
                    if let Some(timer) = &mut idle
                        && timer.as_mut().poll(cx).is_ready()
                    {
                        return Poll::Ready(Next::Idle);
                    }
                    Poll::Pending
                })
                .await;
                match next {
                    Next::Sys => {}
                    Next::User => {}
                    Next::Idle => {
                        let pid = self.ctx.pid();
                        let hook = traced!(
                            catch_unwind(actor.on_receive_timeout(&mut self.ctx)),
                            "bactor.hook",
                            pid,
                            std::any::type_name::<A>(),
                            "on_receive_timeout"
                        );
                        if let Err(e) = failure(Box::pin(hook).await) {
                            return Step::fail(e, None);
                        }
                        if let Some(e) = self.ctx.take_deferred_failure() {
                            return Step::fail(e, None);
                        }
                        if self.ctx.stop_requested {
                            return Step::Stop(StopReason::Stopped);
                        }
                    }
                    // Unreachable while the actor holds its own ref; stop rather than spin.
                    Next::Closed => return Step::Stop(StopReason::Stopped),
                }
                continue;
            };
            // In a block, so that what is only needed before the handler runs (the letter,
            // the message's place, the pid) is not kept in the task while it runs: the
            // serve loop's state is part of every actor's task.
            let (msg, name, state_before, started) = {
                let msg = match env {
                    Letter::Msg(msg) => msg,
                    Letter::Headed(headed) => {
                        let (msg, headers) = *headed;
                        self.ctx.headers = headers;
                        msg
                    }
                    Letter::Stop => return Step::Stop(StopReason::Stopped),
                };
                handled += 1;
                // Counted as it is taken: an asker that got its reply sees it counted.
                self.ctx.myself().inner.handled_one();
                #[cfg(feature = "metrics")]
                if let Some(m) = &self.ctx.myself().inner.metrics {
                    m.handled.increment(1);
                }
                if A::HAS_BEHAVIOR
                    && let Admit::Not(otherwise) = actor.admit(&msg)
                {
                    self.ctx.not_served(msg, otherwise, actor.state_name());
                    self.ctx.clear_headers();
                    continue;
                }
                // A change of state may serve what is stashed.
                let state_before =
                    (A::HAS_BEHAVIOR && self.ctx.has_stashed()).then(|| actor.state_key());
                let name = A::message_name(&msg);
                let started = match self.receive.as_deref() {
                    None => None,
                    Some((layers, timed)) => {
                        let pid = self.ctx.pid();
                        match receive_before::<A>(
                            layers,
                            *timed,
                            pid,
                            name,
                            &msg,
                            &self.ctx.headers,
                        ) {
                            Ok(started) => Some(started),
                            Err(rejection) => {
                                self.ctx.refuse(msg, crate::AskError::Rejected(rejection));
                                self.ctx.clear_headers();
                                continue;
                            }
                        }
                    }
                };
                (msg, name, state_before, started)
            };
            // The handler's future is made where it is awaited: made before, it was built
            // on the stack and then copied into the task (168 bytes for a handler that
            // tells, and a stalled load right after).
            #[cfg(feature = "metrics")]
            let timed = self
                .ctx
                .myself()
                .inner
                .metrics
                .as_deref()
                .and_then(crate::metrics::TypeMetrics::start);
            let outcome = failure(
                traced!(
                    catch_unwind(actor.handle(msg, &mut self.ctx)),
                    "bactor.message",
                    self.ctx.pid(),
                    std::any::type_name::<A>(),
                    name
                )
                .await,
            );
            #[cfg(feature = "metrics")]
            if let (Some(at), Some(m)) = (timed, &self.ctx.myself().inner.metrics) {
                m.handler_time.record(at.elapsed());
            }
            if let (Some((layers, _)), Some(started)) = (self.receive.as_deref(), started) {
                let pid = self.ctx.pid();
                receive_after::<A>(layers, pid, name, &outcome, started, &self.ctx.headers);
            }
            self.ctx.clear_headers();
            if let Err(e) = outcome {
                return Step::fail(e, Some(name));
            }
            if let Some(before) = state_before
                && actor.state_key() != before
            {
                self.ctx.unstash_all();
            }
            if let Some(e) = self.ctx.take_deferred_failure() {
                return Step::fail(e, Some(name));
            }
            if self.ctx.stop_requested {
                return Step::Stop(StopReason::Stopped);
            }
        }
    }

    /// Handles one system message. `actor` is `None` while the actor cannot run hooks
    /// (failed, restarting); notices for hooks are then deferred. `Some(step)` leaves the
    /// current step.
    async fn on_system(&mut self, actor: Option<&mut A>, msg: SystemMsg) -> Option<Step> {
        match msg {
            SystemMsg::Stop => Some(Step::Stop(StopReason::Stopped)),
            SystemMsg::Decision(Decision::Resume) => None,
            SystemMsg::Decision(Decision::Restart { delay, cause }) => {
                Some(Step::Restart { delay, cause })
            }
            SystemMsg::Decision(Decision::Stop { cause }) => Some(Step::Stop(
                cause.map_or(StopReason::Stopped, StopReason::Failed),
            )),
            SystemMsg::ChildFailed {
                child,
                child_type,
                error,
                message,
            } => self.supervise_child(child, child_type, error, message),
            SystemMsg::ChildTerminated { child, reason } => {
                self.ctx.remove_child(child);
                if let Some(rare) = &mut self.rare {
                    rare.escalated.retain(|p| *p != child);
                }
                self.terminated_notice(actor, child, reason).await
            }
            SystemMsg::Watch { watcher, sys } => {
                self.watch_me(watcher, sys);
                None
            }
            SystemMsg::Unwatch { watcher } => {
                self.unwatch_me(watcher);
                None
            }
            SystemMsg::Terminated { pid, reason } => {
                // Ignore notices for pids no longer watched (unwatched, or already told).
                if !self.ctx.stop_watching(pid) {
                    return None;
                }
                self.terminated_notice(actor, pid, reason).await
            }
            // Without an instance (failed, restarting) the next instance's start or
            // message picks up whatever the poke was for.
            SystemMsg::Poke => match actor {
                Some(actor) => failure(catch_unwind(actor.poked(&mut self.ctx)).await)
                    .err()
                    .map(|e| Step::fail(e, None)),
                None => None,
            },
            #[cfg(feature = "persist")]
            SystemMsg::Persisted => match crate::persistence::persisted(&mut self.ctx) {
                crate::persistence::Persisted::Done => None,
                crate::persistence::Persisted::Failed(e) => Some(Step::fail(e, None)),
                crate::persistence::Persisted::Stop => Some(Step::Stop(StopReason::Stopped)),
            },
        }
    }

    /// A watched actor or a child stopped. Its notice runs once the user messages queued
    /// now are handled: every message it sent this actor before it stopped is among
    /// them, so `on_terminated` comes after them (as Akka guarantees).
    async fn terminated_notice(
        &mut self,
        actor: Option<&mut A>,
        pid: Pid,
        reason: StopReason,
    ) -> Option<Step> {
        let Some(actor) = actor else {
            self.rare_mut().deferred.push_back((pid, reason));
            return None;
        };
        let queued = self.user.queued() + self.batch.len() as u64;
        let waiting = self.rare.as_ref().is_some_and(|r| !r.notices.is_empty());
        if queued == 0 && !waiting {
            return self
                .notify_terminated(actor, pid, &reason)
                .await
                .err()
                .map(|e| Step::fail(e, None));
        }
        let rare = self.rare_mut();
        let due = rare.served + queued;
        rare.notices.push_back(Notice { due, pid, reason });
        None
    }

    /// Runs the held notices that are due (all of them with `all`), oldest first.
    async fn due_notices(&mut self, actor: &mut A, all: bool) -> Result<(), ActorError> {
        loop {
            let notice = match self.rare.as_mut() {
                Some(rare)
                    if rare
                        .notices
                        .front()
                        .is_some_and(|n| all || rare.served >= n.due) =>
                {
                    rare.notices.pop_front()
                }
                _ => None,
            };
            let Some(Notice { pid, reason, .. }) = notice else {
                if let Some(rare) = self.rare.as_mut()
                    && rare.notices.is_empty()
                {
                    rare.served = 0;
                }
                return Ok(());
            };
            self.notify_terminated(actor, pid, &reason).await?;
        }
    }

    async fn notify_terminated(
        &mut self,
        actor: &mut A,
        pid: Pid,
        reason: &StopReason,
    ) -> Result<(), ActorError> {
        failure(catch_unwind(actor.on_terminated(&mut self.ctx, pid, reason)).await)
    }

    /// This actor failed: report to the supervisor and wait for its decision.
    async fn supervise(
        &mut self,
        error: Arc<ActorError>,
        message: Option<&'static str>,
        has_instance: bool,
    ) -> Step {
        let pid = self.pid();
        trace::failed(pid, &error, message);
        self.ctx.myself().inner.failed_one();
        self.ctx.system().note_failure(pid, &error);
        let decision = match self.ctx.parent_link() {
            Parent::Guardian => {
                let strategy = *self.ctx.system().guardian_strategy();
                let now = tokio::time::Instant::now();
                // The guardian has no parent to escalate to: Escalate means Restart.
                let (directive, delay) =
                    strategy.decide_with(&error, &mut self.rare_mut().guardian_stats, now, |d| {
                        match d {
                            Directive::Escalate => Directive::Restart,
                            d => d,
                        }
                    });
                self.publish(SystemEvent::Supervisor(SupervisorEvent {
                    supervisor: None,
                    child: pid,
                    child_type: std::any::type_name::<A>(),
                    reason: Arc::clone(&error),
                    message,
                    directive,
                    delay,
                }));
                match directive {
                    Directive::Resume => Decision::Resume,
                    Directive::Restart | Directive::Escalate => Decision::Restart {
                        delay,
                        cause: Arc::clone(&error),
                    },
                    Directive::Stop => Decision::Stop {
                        cause: Some(Arc::clone(&error)),
                    },
                }
            }
            Parent::Actor { sys, .. } => {
                let report = SystemMsg::ChildFailed {
                    child: pid,
                    child_type: std::any::type_name::<A>(),
                    error: Arc::clone(&error),
                    message,
                };
                if sys.send(report).is_err() {
                    // No supervisor left to decide: stop.
                    return Step::Stop(StopReason::Failed(error));
                }
                loop {
                    let Some(msg) = self.sys.recv().await else {
                        return Step::Stop(StopReason::Failed(error));
                    };
                    match msg {
                        SystemMsg::Decision(d) => break d,
                        other => match self.on_system(None, other).await {
                            // Failed already: a child's escalation changes nothing.
                            Some(Step::Fail { .. }) | None => {}
                            Some(step) => return step,
                        },
                    }
                }
            }
        };
        match decision {
            Decision::Resume if has_instance => {
                let escalated = self.rare.as_mut().map(|r| std::mem::take(&mut r.escalated));
                for child in escalated.unwrap_or_default() {
                    if let Some(c) = self.ctx.child(child.id()) {
                        let _ = c.sys.send(SystemMsg::Decision(Decision::Resume));
                    }
                }
                Step::Serve
            }
            // Nothing to resume (the producer itself failed): make a fresh instance.
            Decision::Resume => Step::Restart {
                delay: Duration::ZERO,
                cause: error,
            },
            Decision::Restart { delay, cause } => Step::Restart { delay, cause },
            Decision::Stop { cause } => {
                Step::Stop(cause.map_or(StopReason::Stopped, StopReason::Failed))
            }
        }
    }

    /// A child failed: decide with this actor's strategy and tell the children concerned.
    fn supervise_child(
        &mut self,
        child: Pid,
        child_type: &'static str,
        error: Arc<ActorError>,
        message: Option<&'static str>,
    ) -> Option<Step> {
        let strategy = self.ctx.strategy();
        let now = tokio::time::Instant::now();
        // A child that already stopped needs no decision.
        let entry = self.ctx.child_mut(child.id())?;
        let (directive, delay) = strategy.decide_with(&error, &mut entry.stats, now, |d| d);
        let entry_sys = entry.sys.clone();
        self.publish(SystemEvent::Supervisor(SupervisorEvent {
            supervisor: Some(self.pid()),
            child,
            child_type,
            reason: Arc::clone(&error),
            message,
            directive,
            delay,
        }));
        let all = strategy.strategy() == Strategy::AllForOne;
        let tell = |c: &crate::context::Child, d: Decision| {
            // A child that is gone already has its ChildTerminated on our lane.
            let _ = c.sys.send(SystemMsg::Decision(d));
        };
        match directive {
            Directive::Resume => {
                let _ = entry_sys.send(SystemMsg::Decision(Decision::Resume));
            }
            Directive::Restart => {
                for c in self.ctx.child_list() {
                    if all || c.pid == child {
                        tell(
                            c,
                            Decision::Restart {
                                delay,
                                cause: Arc::clone(&error),
                            },
                        );
                    }
                }
            }
            Directive::Stop => {
                for c in self.ctx.child_list() {
                    if c.pid == child {
                        tell(
                            c,
                            Decision::Stop {
                                cause: Some(Arc::clone(&error)),
                            },
                        );
                    } else if all {
                        tell(c, Decision::Stop { cause: None });
                    }
                }
            }
            Directive::Escalate => {
                self.rare_mut().escalated.push(child);
                return Some(Step::fail(ActorError::escalated(child, error), None));
            }
        }
        None
    }

    /// Stops every child and waits until all have stopped. Other system messages are
    /// handled meanwhile; a stop request is remembered and returned.
    /// Stops the children one at a time, the most recently spawned first (an actor
    /// spawned after the siblings it uses stops before them), and waits for each.
    async fn stop_children(&mut self) -> Option<StopReason> {
        let mut stop = None;
        let mut order: Vec<u64> = self.ctx.child_list().map(|c| c.pid.id()).collect();
        order.sort_unstable_by_key(|id| std::cmp::Reverse(*id));
        for id in order {
            let Some(child) = self.ctx.child(id) else {
                continue;
            };
            // An error means the child already stopped; its notice is on our lane.
            let _ = child.sys.send(SystemMsg::Stop);
            if let Some(reason) = self.await_children(Some(id)).await {
                stop = Some(reason);
            }
        }
        // Children spawned meanwhile (by this actor's hooks, say) are stopped too.
        for child in self.ctx.child_list() {
            let _ = child.sys.send(SystemMsg::Stop);
        }
        if let Some(reason) = self.await_children(None).await {
            stop = Some(reason);
        }
        if let Some(rare) = &mut self.rare {
            rare.escalated.clear();
        }
        stop
    }

    /// Handles the system lane until child `id` (every child, for `None`) has stopped; a
    /// stop ordered meanwhile is returned.
    async fn await_children(&mut self, id: Option<u64>) -> Option<StopReason> {
        let mut stop = None;
        loop {
            let waiting = match id {
                Some(id) => self.ctx.child(id).is_some(),
                None => self.ctx.has_children(),
            };
            if !waiting {
                return stop;
            }
            let Some(msg) = self.sys.recv().await else {
                return stop;
            };
            match msg {
                SystemMsg::ChildTerminated { child, .. } => {
                    self.ctx.remove_child(child);
                }
                SystemMsg::Stop => stop = Some(StopReason::Stopped),
                SystemMsg::Decision(Decision::Stop { cause }) => {
                    stop = Some(cause.map_or(StopReason::Stopped, StopReason::Failed));
                }
                // The children are being stopped: their failures and our other decisions
                // no longer matter.
                SystemMsg::ChildFailed { .. } | SystemMsg::Decision(_) => {}
                other => {
                    self.on_system(None, other).await;
                }
            }
        }
    }

    /// The restart sequence: wait out the backoff, `pre_restart` on the old instance, stop
    /// the children, a fresh instance, `post_restart` on it.
    async fn restart(
        &mut self,
        actor: &mut Option<A>,
        delay: Duration,
        cause: Arc<ActorError>,
    ) -> Step {
        // System messages first: a stop already queued wins over the restart.
        while let Some(msg) = self.sys.try_recv() {
            match msg {
                SystemMsg::Decision(Decision::Restart { .. } | Decision::Resume) => {}
                other => {
                    if let Some(Step::Stop(reason)) = self.on_system(None, other).await {
                        return Step::Stop(reason);
                    }
                }
            }
        }
        if !delay.is_zero() {
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    msg = self.sys.recv() => match msg {
                        None => break,
                        // Already restarting: a second restart order adds nothing.
                        Some(SystemMsg::Decision(Decision::Restart { .. } | Decision::Resume)) => {}
                        Some(other) => {
                            if let Some(Step::Stop(reason)) = self.on_system(None, other).await {
                                return Step::Stop(reason);
                            }
                        }
                    },
                }
            }
        }
        if let Some(old) = actor.as_mut() {
            // A failing pre_restart must not block the restart; the old instance goes anyway.
            let _ = catch_unwind(old.pre_restart(&mut self.ctx, &cause)).await;
        }
        if let Some(reason) = Box::pin(self.stop_children()).await {
            return Step::Stop(reason);
        }
        self.ctx.cancel_timers();
        self.ctx.stop_requested = false;
        self.ctx.reset_for_restart();
        // Stashed messages go back in front of the mailbox, for the new instance.
        self.ctx.unstash_all();
        // What the old instance applied with `persist_deferred` is written first: the
        // new one recovers it.
        #[cfg(feature = "persist")]
        Box::pin(crate::persistence::settle(&mut self.ctx)).await;
        // The old instance is dropped before the new one is made.
        *actor = None;
        let fresh = match std::panic::catch_unwind(AssertUnwindSafe(|| self.producer.make())) {
            Ok(a) => actor.insert(a),
            Err(panic) => return Step::fail(ActorError::from_panic(panic), None),
        };
        self.ctx.note_restart(Arc::clone(&cause));
        self.ctx.myself().inner.restarted_one();
        self.publish(SystemEvent::ActorRestarted {
            pid: self.pid(),
            reason: Arc::clone(&cause),
        });
        if let Err(e) = failure(catch_unwind(fresh.recover(&mut self.ctx)).await) {
            return Step::fail(e, None);
        }
        match failure(catch_unwind(fresh.post_restart(&mut self.ctx, &cause)).await) {
            Ok(()) => Step::Serve,
            Err(e) => Step::fail(e, None),
        }
    }

    /// The stop sequence: refuse new messages, stop and await the children, cancel timers,
    /// run `post_stop`, answer late watchers, turn what is still queued into dead letters,
    /// release the pid, tell the parent and the watchers.
    async fn finish(mut self, actor: Option<A>, mut reason: StopReason) {
        self.ctx.stopping = true;
        self.user.close();
        // A stop request arriving now changes nothing: we are stopping.
        let _ = Box::pin(self.stop_children()).await;
        self.ctx.cancel_timers();
        // Events applied with `persist_deferred` are written before the stop completes.
        #[cfg(feature = "persist")]
        Box::pin(crate::persistence::settle(&mut self.ctx)).await;
        if let Some(mut actor) = actor {
            let outcome = catch_unwind(actor.post_stop(&mut self.ctx)).await;
            if let Err(panic) = outcome
                && reason.is_normal()
            {
                reason = StopReason::Failed(Arc::new(ActorError::from_panic(panic)));
            }
        }
        // From here on, system messages fail at the sender; answer the ones already queued.
        // `recv`, not `try_recv`: a send admitted just before the close may not have landed
        // yet, and `try_recv` would report the lane empty and lose it (a watcher would then
        // never hear of this stop). `recv` waits for it and ends once the lane is drained.
        self.sys.close();
        while let Some(msg) = self.sys.recv().await {
            match msg {
                SystemMsg::Watch { watcher, sys } => self.watch_me(watcher, sys),
                SystemMsg::Unwatch { watcher } => self.unwatch_me(watcher),
                _ => {}
            }
        }
        let myself = self.ctx.myself().clone();
        // Stashed messages first: they arrived before anything still in the mailbox.
        for env in self.ctx.take_stash() {
            myself.inner.dead_letter(&env);
        }
        for env in self.batch.drain(..) {
            myself.inner.dead_letter(&env);
        }
        // Closed above: `recv` also takes a message whose send was admitted before the
        // close, so none is lost without a dead letter (and its asker without an answer).
        while let Some(env) = self.user.recv().await {
            myself.inner.dead_letter(&env);
        }
        let pid = myself.pid();
        trace::stopped(pid, &reason);
        self.publish(SystemEvent::ActorStopped {
            pid,
            reason: reason.clone(),
        });
        self.ctx.system().unregister(pid);
        let parent = self.ctx.parent_link().pid();
        let watchers = self.rare.take().map(|r| r.watchers).unwrap_or_default();
        for w in watchers.values() {
            if Some(w.pid) != parent {
                // A watcher that is gone needs no notice.
                let _ = w.sys.send(SystemMsg::Terminated {
                    pid,
                    reason: reason.clone(),
                });
            }
        }
        self.ctx.parent_link().child_terminated(pid, reason);
        myself.inner.mark_terminated();
    }
}

/// The sizes of an actor's parts, for `benches/src/memprobe.rs` (not public API).
pub fn sizes<A: Actor>() -> Vec<(&'static str, usize)> {
    use std::mem::size_of;
    vec![
        ("cell", size_of::<Cell<A>>()),
        ("context", size_of::<Context<A>>()),
        ("user_rx", size_of::<UserRx<A::Msg>>()),
        ("rare", size_of::<Rare>()),
        ("producer", size_of::<Producer<A>>()),
        ("receive", size_of::<crate::middleware::ReceiveLayers>()),
        ("step", size_of::<Step>()),
        ("envelope", size_of::<Letter<A::Msg>>()),
        ("system", size_of::<crate::ActorSystem>()),
        ("sysmsg", size_of::<SystemMsg>()),
        ("ref_inner", size_of::<crate::actor_ref::RefInner<A::Msg>>()),
    ]
}
