//! The task that runs one actor: start, the message loop, and the stop sequence.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use tokio::sync::mpsc;

use crate::actor::Actor;
use crate::context::Context;
use crate::error::{ActorError, StopReason};
use crate::events::SystemEvent;
use crate::mailbox::{Envelope, UserRx};
use crate::props::Producer;
use crate::system::SystemMsg;

/// The most user messages taken from the lane at once. Small enough that a full mailbox
/// still pushes back promptly, large enough to amortise waking up.
const BATCH: usize = 64;

pub(crate) struct Cell<A: Actor> {
    pub(crate) producer: Producer<A>,
    pub(crate) ctx: Context<A>,
    pub(crate) user: UserRx<A::Msg>,
    pub(crate) sys: mpsc::UnboundedReceiver<SystemMsg>,
    pub(crate) throughput: usize,
}

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
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Flattens a hook's or handler's outcome: its own error or a caught panic.
pub(crate) fn failure<T>(
    r: Result<Result<T, ActorError>, Box<dyn Any + Send>>,
) -> Result<T, ActorError> {
    match r {
        Ok(inner) => inner,
        Err(panic) => Err(ActorError::from_panic(panic)),
    }
}

enum Next {
    Sys(SystemMsg),
    User,
    Closed,
}

pub(crate) async fn run<A: Actor>(cell: Cell<A>) {
    let Cell {
        producer,
        mut ctx,
        mut user,
        mut sys,
        throughput,
    } = cell;
    let mut batch: Vec<Envelope<A::Msg>> = Vec::new();
    let pid = ctx.pid();
    let events = Arc::clone(ctx.system().events_arc());

    let mut actor = match std::panic::catch_unwind(AssertUnwindSafe(|| (producer)())) {
        Ok(actor) => actor,
        Err(panic) => {
            let reason = StopReason::Failed(Arc::new(ActorError::from_panic(panic)));
            finish::<A>(None, ctx, user, sys, batch, reason).await;
            return;
        }
    };
    let reason = match failure(catch_unwind(actor.pre_start(&mut ctx)).await) {
        Err(e) => StopReason::Failed(Arc::new(e)),
        Ok(()) => {
            events.publish(SystemEvent::ActorStarted {
                pid,
                type_name: std::any::type_name::<A>(),
            });
            serve(
                &mut actor, &mut ctx, &mut user, &mut sys, &mut batch, throughput,
            )
            .await
        }
    };
    finish(Some(actor), ctx, user, sys, batch, reason).await;
}

/// The message loop. Returns when the actor should stop.
async fn serve<A: Actor>(
    actor: &mut A,
    ctx: &mut Context<A>,
    user: &mut UserRx<A::Msg>,
    sys: &mut mpsc::UnboundedReceiver<SystemMsg>,
    batch: &mut Vec<Envelope<A::Msg>>,
    throughput: usize,
) -> StopReason {
    let mut handled = 0usize;
    loop {
        // The system lane is always served first.
        if !sys.is_empty() {
            if let Ok(msg) = sys.try_recv()
                && let Some(reason) = on_system(ctx, msg)
            {
                return reason;
            }
            continue;
        }
        if handled >= throughput {
            // End of this turn: let the other tasks on this thread run.
            handled = 0;
            tokio::task::yield_now().await;
            continue;
        }
        let Some(env) = batch.pop() else {
            let next = poll_fn(|cx| {
                if let Poll::Ready(Some(msg)) = sys.poll_recv(cx) {
                    return Poll::Ready(Next::Sys(msg));
                }
                match user.poll_recv_many(cx, batch, BATCH.min(throughput)) {
                    Poll::Ready(0) => Poll::Ready(Next::Closed),
                    Poll::Ready(_) => Poll::Ready(Next::User),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await;
            match next {
                Next::Sys(msg) => {
                    if let Some(reason) = on_system(ctx, msg) {
                        return reason;
                    }
                }
                // Popped from the back, so keep the batch in reverse order.
                Next::User => batch.reverse(),
                // Unreachable while the actor holds its own ref; stop rather than spin.
                Next::Closed => return StopReason::Stopped,
            }
            continue;
        };
        match env {
            Envelope::Msg(msg) => {
                handled += 1;
                if let Err(e) = failure(catch_unwind(actor.handle(msg, ctx)).await) {
                    return StopReason::Failed(Arc::new(e));
                }
                if ctx.stop_requested {
                    return StopReason::Stopped;
                }
            }
            Envelope::Stop => return StopReason::Stopped,
        }
    }
}

/// Handles one system message; `Some` means stop.
fn on_system<A: Actor>(ctx: &mut Context<A>, msg: SystemMsg) -> Option<StopReason> {
    match msg {
        SystemMsg::Stop => Some(StopReason::Stopped),
        SystemMsg::ChildTerminated(pid) => {
            ctx.children.remove(&pid.id());
            None
        }
    }
}

/// The stop sequence: refuse new messages, stop and await the children, cancel timers, run
/// `post_stop`, turn what is still queued into dead letters, release the pid, tell the parent.
async fn finish<A: Actor>(
    actor: Option<A>,
    mut ctx: Context<A>,
    mut user: UserRx<A::Msg>,
    mut sys: mpsc::UnboundedReceiver<SystemMsg>,
    mut batch: Vec<Envelope<A::Msg>>,
    mut reason: StopReason,
) {
    ctx.stopping = true;
    user.close();
    for child in ctx.children.values() {
        // An error means the child already stopped; its notice is on our lane.
        let _ = child.sys.send(SystemMsg::Stop);
    }
    while !ctx.children.is_empty() {
        match sys.recv().await {
            Some(SystemMsg::ChildTerminated(pid)) => {
                ctx.children.remove(&pid.id());
            }
            Some(SystemMsg::Stop) => {}
            None => break,
        }
    }
    ctx.cancel_timers();
    if let Some(mut actor) = actor {
        let outcome = catch_unwind(actor.post_stop(&mut ctx)).await;
        if let Err(panic) = outcome
            && reason.is_normal()
        {
            reason = StopReason::Failed(Arc::new(ActorError::from_panic(panic)));
        }
    }
    let myself = ctx.myself().clone();
    // `batch` is in reverse order; report in arrival order.
    for env in batch.drain(..).rev() {
        myself.inner.dead_letter(&env);
    }
    while let Some(env) = user.try_recv() {
        myself.inner.dead_letter(&env);
    }
    let pid = myself.pid();
    ctx.system()
        .events()
        .publish(SystemEvent::ActorStopped { pid, reason });
    ctx.system().unregister(pid);
    ctx.parent_link().child_terminated(pid);
    myself.inner.mark_terminated();
}
