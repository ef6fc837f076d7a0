//! Panics in handlers and hooks without the default hook's output.
//!
//! A panic in a handler or a lifecycle hook is caught: it becomes the actor's failure
//! (an [`ActorError`](crate::ActorError) whose [`is_panic`](crate::ActorError::is_panic)
//! is true), which its supervisor decides on and which reaches the event stream
//! ([`SystemEvent::Supervisor`](crate::SystemEvent)) and, with the `tracing` feature, a
//! `tracing` event. Rust's default panic hook prints it to stderr first, with a backtrace
//! under `RUST_BACKTRACE=1`: an actor that fails a thousand times prints a thousand
//! backtraces.
//!
//! [`quiet_actor_panics`] installs a process-wide hook that stays silent for panics
//! inside actors and hands every other panic to the hook that was there before. The
//! failure keeps the panic's message and gains its location (`... at src/lib.rs:10:5`).
//! It is opt-in: a panic is a bug, and Rust programs print bugs unless told otherwise;
//! programs that supervise panicking actors by design turn it on (the examples do).

use std::cell::Cell;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the quiet hook is installed: only then do actors mark their polls.
static QUIET: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Inside an actor's handler or hook (while the quiet hook is installed).
    static IN_ACTOR: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic inside an actor on this thread happened.
    static LOCATION: Cell<Option<String>> = const { Cell::new(None) };
}

/// Installs, once for the process, a panic hook that does not print panics inside actors
/// (handlers and hooks): they reach the event stream and `tracing` as the actor's failure,
/// with their location. Other panics go to the hook installed before.
///
/// # Example
///
/// ```
/// use bactor::prelude::*;
///
/// #[actor]
/// #[derive(Default)]
/// struct Fragile;
///
/// #[actor]
/// impl Fragile {
///     #[handler]
///     fn poke(&mut self) {
///         panic!("poked too hard");
///     }
/// }
///
/// # #[tokio::main] async fn main() {
/// bactor::quiet_actor_panics();
/// let system = ActorSystem::new();
/// let mut events = system.events().subscribe();
/// let fragile = system.spawn(Fragile::default).await.unwrap();
/// assert_eq!(fragile.poke().await, Err(AskError::Failed)); // nothing printed
/// loop {
///     if let Some(SystemEvent::Supervisor(e)) = events.recv().await {
///         assert!(e.reason.to_string().contains("poked too hard at "));
///         break;
///     }
/// }
/// # system.shutdown().await;
/// # }
/// ```
pub fn quiet_actor_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_ACTOR.with(Cell::get) {
                LOCATION.with(|l| {
                    l.set(
                        info.location()
                            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
                    );
                });
                return;
            }
            previous(info);
        }));
        QUIET.store(true, Ordering::Release);
    });
}

/// Runs `poll` marked as inside an actor, when the quiet hook is installed.
#[inline]
pub(crate) fn in_actor<T>(poll: impl FnOnce() -> T) -> T {
    if !QUIET.load(Ordering::Relaxed) {
        return poll();
    }
    let outer = IN_ACTOR.with(|f| f.replace(true));
    // Restored by the guard whether `poll` returns or unwinds.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_ACTOR.with(|f| f.set(self.0));
        }
    }
    let _restore = Restore(outer);
    poll()
}

/// The location of the panic just caught on this thread, if the quiet hook saw it.
pub(crate) fn take_location() -> Option<String> {
    if !QUIET.load(Ordering::Relaxed) {
        return None;
    }
    LOCATION.with(Cell::take)
}
