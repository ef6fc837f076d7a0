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
