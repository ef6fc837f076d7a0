//! Generated code must be clean under strict lints. `cargo clippy --all-targets -- -D
//! warnings` (run by CI) checks this file with `clippy::pedantic` on.
#![deny(warnings, unused_qualifications, missing_docs)]
#![warn(clippy::pedantic)]

use bactor::prelude::*;

/// A documented public actor with every handler shape.
#[actor(mailbox = 8)]
#[derive(Debug, Default)]
pub struct Linted {
    n: u64,
}

/// An error.
#[derive(Debug)]
pub struct Oops;

#[actor]
impl Linted {
    /// Sync.
    #[handler]
    pub fn set(&mut self, n: u64) {
        self.n = n;
    }

    /// Async with context.
    #[handler]
    pub async fn get(&self, ctx: &mut Context<Self>) -> u64 {
        let _ = ctx.pid();
        tokio::task::yield_now().await;
        self.n
    }

    /// Fallible.
    ///
    /// # Errors
    ///
    /// `Oops` above the limit.
    #[handler]
    pub fn check(&self, limit: u64) -> Result<u64, Oops> {
        if self.n <= limit {
            Ok(self.n)
        } else {
            Err(Oops)
        }
    }

    #[allow(clippy::unused_async)]
    async fn pre_start(&mut self) -> Result<(), ActorError> {
        Ok(())
    }

    fn post_stop(&mut self, ctx: &mut Context<Self>) {
        self.n = ctx.pid().id();
    }
}

/// A generic actor.
#[actor]
#[derive(Debug)]
pub struct Slot<T: Send + 'static> {
    value: Option<T>,
}

#[actor]
impl<T: Send + 'static> Slot<T> {
    /// Replaces the value.
    #[handler]
    pub fn replace(&mut self, value: T) -> Option<T> {
        self.value.replace(value)
    }
}

#[tokio::test]
async fn linted_actors_run() {
    let system = ActorSystem::new();
    let l = system.spawn(Linted::default).await.unwrap();
    l.set(3).await.unwrap();
    assert_eq!(l.get().await.unwrap(), 3);
    assert!(l.check(1).await.is_err());
    let s = system.spawn(|| Slot { value: None }).await.unwrap();
    assert_eq!(s.replace(1_u8).await.unwrap(), None);
    system.shutdown().await;
}
