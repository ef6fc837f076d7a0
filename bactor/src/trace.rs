//! `tracing` integration (feature `tracing`): a span per message and per lifecycle hook,
//! and events for failures, supervision decisions, dead letters and lifecycle changes.
//! Without the feature every function here is empty and compiles away.

use crate::Pid;
#[cfg(feature = "tracing")]
use crate::supervision::SupervisorEvent;

/// Wraps a handler or hook future in a `bactor.message` / `bactor.hook` span.
macro_rules! traced {
    ($fut:expr, $kind:literal, $pid:expr, $actor:expr, $what:expr) => {{
        // The span first: `$pid` may borrow what `$fut` borrows mutably.
        #[cfg(feature = "tracing")]
        let fut = {
            let span = tracing::debug_span!($kind, pid = %$pid, actor = $actor, what = $what);
            tracing::Instrument::instrument($fut, span)
        };
        #[cfg(not(feature = "tracing"))]
        let fut = {
            // Not borrowed: a borrowed local stays in an async fn's state to its scope's
            // end, and this one is in every actor's task.
            let _ = ($actor, $what);
            let _ = $pid;
            $fut
        };
        fut
    }};
}
pub(crate) use traced;

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn started(pid: Pid, actor: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "bactor", %pid, actor, "actor started");
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn stopped(pid: Pid, reason: &crate::StopReason) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "bactor", %pid, %reason, "actor stopped");
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn failed(pid: Pid, error: &crate::ActorError, message: Option<&'static str>) {
    #[cfg(feature = "tracing")]
    // `message` is the event's own text in `tracing`: the message's name is `handler`.
    tracing::warn!(target: "bactor", %pid, %error, handler = message, "actor failed");
}

#[cfg(feature = "tracing")]
pub(crate) fn decided(e: &SupervisorEvent) {
    tracing::info!(
        target: "bactor",
        child = %e.child,
        supervisor = ?e.supervisor,
        directive = %e.directive,
        delay = ?e.delay,
        reason = %e.reason,
        "supervisor decision"
    );
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn dead_letter(recipient: Pid, message: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(target: "bactor", %recipient, letter = message, "dead letter");
}

/// The span of one remote send or receive, entered while it lives (feature `tracing`;
/// nothing without it).
#[cfg(feature = "remote")]
pub(crate) struct Span {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::EnteredSpan,
}

/// A `bactor.remote.send` span: a message being encoded and queued for an actor on
/// another node.
#[cfg(feature = "remote")]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn remote_send<'a>(target: Pid, node: &str, method: impl FnOnce() -> &'a str) -> Span {
    Span {
        #[cfg(feature = "tracing")]
        _entered: {
            let method = method();
            tracing::trace_span!("bactor.remote.send", %target, node, method).entered()
        },
    }
}

/// A `bactor.remote.receive` span: a message from another node being decoded and
/// queued for a local actor.
#[cfg(feature = "remote")]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn remote_receive(target: Pid, from: &str, method: &str) -> Span {
    Span {
        #[cfg(feature = "tracing")]
        _entered: tracing::trace_span!("bactor.remote.receive", %target, from, method).entered(),
    }
}

/// Something on the link to another node went wrong.
#[cfg(feature = "remote")]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn remote_problem(node: &str, what: &str) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "bactor::remote", node, what, "remote");
}
