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
