//! Supervision: what a parent does when a child fails.
//!
//! A child *fails* when a handler or hook panics, when `pre_start` / `post_restart`
//! returns an error, or when a `#[handler(fail_on_error)]` handler returns `Err`. The child
//! then stops taking user messages (its mailbox keeps them) and reports to its parent on
//! the parent's system lane. The parent's [`SupervisorStrategy`] picks a [`Directive`]:
//!
//! | directive | effect |
//! |---|---|
//! | [`Resume`](Directive::Resume) | keep the state, drop the failing message, continue |
//! | [`Restart`](Directive::Restart) | `pre_restart` on the old instance, its children stopped and awaited, a new instance from the producer, `post_restart` on it; pid, mailbox and refs survive; the failing message is not retried |
//! | [`Stop`](Directive::Stop) | stop the child |
//! | [`Escalate`](Directive::Escalate) | the parent fails in turn and its own parent decides |
//!
//! One-for-one applies Restart and Stop to the failing child only; all-for-one applies them
//! to every child of the parent (Resume always concerns the failing child only).
//!
//! A restart is allowed `max_restarts` times within `within`; one more failure in that
//! window stops the child instead. With a [`Backoff`], the n-th consecutive restart waits
//! `min · 2ⁿ⁻¹` (capped at `max`, with ± `jitter` randomness) before it happens; messages
//! that arrive meanwhile wait in the mailbox. The count of consecutive restarts resets
//! after `reset` without a failure.
//!
//! Top-level actors are supervised by the system's guardian, whose strategy is the default
//! (one-for-one, restart, 10 restarts within 10 s, then stop) unless
//! [`ActorSystemBuilder::guardian_strategy`](crate::ActorSystemBuilder::guardian_strategy)
//! says otherwise. The guardian has no parent: an Escalate decided there falls back to
//! Restart.
//!
//! Every decision is published as [`SystemEvent::Supervisor`](crate::SystemEvent).

use std::collections::VecDeque;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::Pid;
use crate::error::ActorError;

/// What a supervisor does with a failed child.
///
/// # Example
///
/// ```
/// use bactor::{ActorError, Directive};
///
/// fn decide(error: &ActorError) -> Directive {
///     if error.downcast_ref::<std::io::Error>().is_some() {
///         Directive::Restart
///     } else {
///         Directive::Escalate
///     }
/// }
/// assert_eq!(decide(&ActorError::msg("odd")), Directive::Escalate);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Directive {
    /// Keep the state, drop the failing message, continue.
    Resume,
    /// Replace the instance with a fresh one from the producer.
    Restart,
    /// Stop the child.
    Stop,
    /// Fail the supervisor itself; its own supervisor decides.
    Escalate,
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Directive::Resume => "resume",
            Directive::Restart => "restart",
            Directive::Stop => "stop",
            Directive::Escalate => "escalate",
        })
    }
}

/// Which children a Restart or Stop applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strategy {
    /// Only the failing child.
    OneForOne,
    /// Every child of the supervisor.
    AllForOne,
}

/// Exponential backoff between restarts.
///
/// # Example
///
/// ```
/// use bactor::Backoff;
/// use std::time::Duration;
///
/// let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1));
/// assert_eq!(b.base_delay(1), Duration::from_millis(100));
/// assert_eq!(b.base_delay(3), Duration::from_millis(400));
/// assert_eq!(b.base_delay(10), Duration::from_secs(1)); // capped
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    reset: Duration,
}

impl Backoff {
    /// Delays of `min`, `2·min`, `4·min`, … capped at `max`, no jitter, reset after
    /// `(min + max) / 2` without a failure.
    pub fn exponential(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Backoff {
            min,
            max,
            jitter: 0.0,
            reset: (min + max) / 2,
        }
    }

    /// Randomises each delay by up to ± `factor` of itself (clamped to `0.0..=1.0`).
    pub fn jitter(mut self, factor: f64) -> Self {
        self.jitter = if factor.is_finite() {
            factor.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// After this long without a failure (counted from the last restart) the next restart
    /// waits `min` again.
    pub fn reset_after(mut self, quiet: Duration) -> Self {
        self.reset = quiet;
        self
    }

    /// The delay before the `attempt`-th consecutive restart (1-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    fn delay(&self, attempt: u32) -> Duration {
        let base = self.base_delay(attempt);
        if self.jitter == 0.0 {
            return base;
        }
        // A number in [-1, 1): randomness only spreads restarts apart, so a hash of a
        // randomly keyed hasher is good enough and costs no dependency.
        let r = RandomState::new().hash_one(attempt) as f64 / u64::MAX as f64 * 2.0 - 1.0;
        base.mul_f64((1.0 + self.jitter * r).max(0.0))
    }
}

/// Decides a directive from a failure.
pub type Decider = fn(&ActorError) -> Directive;

fn always_restart(_: &ActorError) -> Directive {
    Directive::Restart
}

/// How an actor supervises its children: set with `#[supervise(...)]`, per spawn with
/// [`Props::supervisor`](crate::Props::supervisor), or for top-level actors with
/// [`ActorSystemBuilder::guardian_strategy`](crate::ActorSystemBuilder::guardian_strategy).
///
/// The default is one-for-one, always restart, at most 10 restarts within 10 s, no backoff.
///
/// # Example
///
/// ```
/// use bactor::{Backoff, Directive, SupervisorStrategy};
/// use std::time::Duration;
///
/// let strategy = SupervisorStrategy::all_for_one()
///     .max_restarts(3)
///     .within(Duration::from_secs(5))
///     .backoff(Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1)))
///     .decider(|_| Directive::Restart);
/// assert_eq!(strategy.max_restarts_value(), 3);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SupervisorStrategy {
    strategy: Strategy,
    max_restarts: u32,
    within: Duration,
    backoff: Option<Backoff>,
    decider: Decider,
}

impl Default for SupervisorStrategy {
    fn default() -> Self {
        SupervisorStrategy::one_for_one()
    }
}

impl SupervisorStrategy {
    /// The default limit: 10 restarts…
    pub const DEFAULT_MAX_RESTARTS: u32 = 10;
    /// …within 10 seconds.
    pub const DEFAULT_WITHIN: Duration = Duration::from_secs(10);

    /// One-for-one with the default limit, always restart.
    pub fn one_for_one() -> Self {
        SupervisorStrategy {
            strategy: Strategy::OneForOne,
            max_restarts: Self::DEFAULT_MAX_RESTARTS,
            within: Self::DEFAULT_WITHIN,
            backoff: None,
            decider: always_restart,
        }
    }

    /// All-for-one with the default limit, always restart.
    pub fn all_for_one() -> Self {
        SupervisorStrategy {
            strategy: Strategy::AllForOne,
            ..Self::one_for_one()
        }
    }

    /// At most `n` restarts within the window; one more failure stops the child.
    /// `0` stops a child at its first failure.
    pub fn max_restarts(mut self, n: u32) -> Self {
        self.max_restarts = n;
        self
    }

    /// The window in which restarts are counted. `Duration::ZERO` counts every failure ever.
    pub fn within(mut self, window: Duration) -> Self {
        self.within = window;
        self
    }

    /// Waits between restarts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = Some(backoff);
        self
    }

    /// Picks the directive from the failure (default: always restart).
    pub fn decider(mut self, decider: Decider) -> Self {
        self.decider = decider;
        self
    }

    /// One-for-one or all-for-one.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The restart limit.
    pub fn max_restarts_value(&self) -> u32 {
        self.max_restarts
    }

    /// The restart window.
    pub fn within_value(&self) -> Duration {
        self.within
    }

    /// The backoff, if any.
    pub fn backoff_value(&self) -> Option<Backoff> {
        self.backoff
    }

    /// Decides for one failure: the decider's directive (passed through `adjust`), turned
    /// into Stop when a restart would exceed the limit, and the delay before a restart.
    pub(crate) fn decide_with(
        &self,
        error: &ActorError,
        stats: &mut RestartStats,
        now: Instant,
        adjust: impl FnOnce(Directive) -> Directive,
    ) -> (Directive, Duration) {
        let directive = adjust((self.decider)(error));
        if directive != Directive::Restart {
            return (directive, Duration::ZERO);
        }
        let in_window = stats.record(now, self.within, self.backoff.map(|b| b.reset));
        if in_window > self.max_restarts as usize {
            return (Directive::Stop, Duration::ZERO);
        }
        let delay = self
            .backoff
            .or_else(|| store_failure_backoff(error))
            .map_or(Duration::ZERO, |b| b.delay(stats.consecutive));
        // The quiet period that resets the backoff counts from the restart, not from the
        // failure: a long backoff wait is not itself quiet time.
        stats.last = Some(now + delay);
        (directive, delay)
    }
}

/// The backoff of a restart after an event store failed (a lost connection, a store that
/// is down), when the strategy has none: restarting at once would only run recovery into
/// the same outage, as fast as the store can refuse it. 100 ms doubling to 10 s, ± 20 %.
/// A strategy with its own backoff (`#[supervise(backoff(..))]`, or the system's) decides
/// instead.
#[cfg(feature = "persist")]
fn store_failure_backoff(error: &ActorError) -> Option<Backoff> {
    use bactor_persist::StoreErrorKind;
    let kind = error.downcast_ref::<crate::PersistError>()?.kind();
    match kind {
        crate::PersistErrorKind::Store(StoreErrorKind::Backend | StoreErrorKind::Closed) => Some(
            Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10)).jitter(0.2),
        ),
        _ => None,
    }
}

#[cfg(not(feature = "persist"))]
fn store_failure_backoff(_: &ActorError) -> Option<Backoff> {
    None
}

/// The failure history of one child, kept by its supervisor.
#[derive(Debug, Default, Clone)]
pub(crate) struct RestartStats {
    failures: VecDeque<Instant>,
    consecutive: u32,
    last: Option<Instant>,
}

impl RestartStats {
    /// Records a failure; returns the number of failures within the window (this one
    /// included) and updates the consecutive count used by backoff.
    fn record(&mut self, now: Instant, within: Duration, reset: Option<Duration>) -> usize {
        if !within.is_zero() {
            while self
                .failures
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) > within)
            {
                self.failures.pop_front();
            }
        }
        self.failures.push_back(now);
        let quiet = match (self.last, reset) {
            (Some(last), Some(reset)) => now.saturating_duration_since(last) > reset,
            _ => false,
        };
        self.consecutive = if quiet { 1 } else { self.consecutive + 1 };
        self.last = Some(now);
        self.failures.len()
    }
}

/// A supervision decision, published on the event stream.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SupervisorEvent {
    /// The supervisor; `None` for the system guardian.
    pub supervisor: Option<Pid>,
    /// The child that failed.
    pub child: Pid,
    /// Its type (`std::any::type_name`): to tell the failures of one kind of actor.
    pub child_type: &'static str,
    /// Why it failed.
    pub reason: Arc<ActorError>,
    /// The message being handled when it failed (`Type::handler`), if it was one.
    pub message: Option<&'static str>,
    /// What was decided (after the restart limit was applied).
    pub directive: Directive,
    /// The backoff delay before the restart; zero without backoff.
    pub delay: Duration,
}
