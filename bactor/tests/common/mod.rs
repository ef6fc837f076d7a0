//! Helpers shared by the behaviour tests.

use std::time::Duration;

/// Guards against hangs only; no assertion depends on wall-clock speed.
pub(crate) const HANG: Duration = Duration::from_secs(30);

/// Awaits `f`, failing the test if it takes longer than [`HANG`].
pub(crate) async fn no_hang<F: std::future::IntoFuture>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f.into_future())
        .await
        .expect("operation hung")
}

/// Polls `f` once, without waiting. A request pushes its message on its first poll, so
/// after `Pending` here an ask or a tell is queued in the mailbox (an ask waiting for its
/// reply, a tell waiting for room), in the order of the calls: explicit ordering for
/// tests, with no task scheduling or sleeping involved.
#[allow(dead_code)] // not every test file uses every helper
pub(crate) fn poll_once<F: std::future::Future + Unpin>(f: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::pin::Pin::new(f).poll(&mut cx)
}

/// The panic hook that was installed before [`quiet_panics`], put back on drop.
type Hook = std::sync::Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync>;

/// Restores the previous panic hook when dropped.
#[allow(dead_code)]
pub(crate) struct QuietPanics(Hook);

impl Drop for QuietPanics {
    fn drop(&mut self) {
        // `set_hook` panics on a panicking thread; the filter left behind only hides the
        // expected panics, so leaving it is harmless then.
        if !std::thread::panicking() {
            let previous = self.0.clone();
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// Keeps panics whose message contains `marker` out of the test output until the guard
/// is dropped; every other panic is reported as before.
#[allow(dead_code)]
pub(crate) fn quiet_panics(marker: &'static str) -> QuietPanics {
    let previous: Hook = std::sync::Arc::from(std::panic::take_hook());
    let inner = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains(marker) {
            inner(info);
        }
    }));
    QuietPanics(previous)
}

/// Waits for the next supervisor decision about `child`.
#[allow(dead_code)]
pub(crate) async fn decision(
    events: &mut bactor::Subscription,
    child: bactor::Pid,
) -> bactor::SupervisorEvent {
    loop {
        if let Some(bactor::SystemEvent::Supervisor(e)) = no_hang(events.recv()).await
            && e.child == child
        {
            return e;
        }
    }
}

/// Waits until `pid` has been restarted.
#[allow(dead_code)]
pub(crate) async fn restarted(events: &mut bactor::Subscription, pid: bactor::Pid) {
    loop {
        if let Some(bactor::SystemEvent::ActorRestarted { pid: p, .. }) =
            no_hang(events.recv()).await
            && p == pid
        {
            return;
        }
    }
}

/// The next dead letter published on `events`.
#[allow(dead_code)]
pub(crate) async fn dead_letter(events: &mut bactor::Subscription) -> bactor::DeadLetter {
    loop {
        if let Some(bactor::SystemEvent::DeadLetter(d)) = no_hang(events.recv()).await {
            return d;
        }
    }
}

/// Waits (yielding, bounded by [`HANG`]) until `done` holds.
#[allow(dead_code)]
pub(crate) async fn eventually(mut done: impl FnMut() -> bool) {
    no_hang(async {
        while !done() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// A node on a loopback port the OS picks, with quick heartbeats and reconnects, so that
/// a lost node is found within a second.
#[cfg(feature = "remote")]
#[allow(dead_code)]
pub(crate) fn quick_node(secret: &str) -> bactor::remote::NodeBuilder {
    bactor::remote::NodeBuilder::new("127.0.0.1:0".parse().unwrap(), secret)
        .heartbeat(Duration::from_millis(100), Duration::from_millis(600))
        .down_after(Duration::from_millis(800))
        .reconnect(Duration::from_millis(50), Duration::from_millis(200))
}
