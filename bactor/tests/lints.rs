//! Generated code must be clean under strict lints. `cargo clippy --all-targets -- -D
//! warnings` (run by CI) checks this file with `clippy::pedantic` on.
#![deny(warnings, unused_qualifications, missing_docs)]
#![warn(clippy::pedantic)]

use bactor::prelude::*;

// The shared test helpers are not generated code: the strict lints are not for them.
#[allow(unused_qualifications, clippy::pedantic)]
mod common;
use common::no_hang;

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
    let l = no_hang(system.spawn(Linted::default)).await.unwrap();
    no_hang(l.set(3)).await.unwrap();
    assert_eq!(no_hang(l.get()).await.unwrap(), 3);
    assert!(no_hang(l.check(1)).await.is_err());
    let s = no_hang(system.spawn(|| Slot { value: None }))
        .await
        .unwrap();
    assert_eq!(no_hang(s.replace(1_u8)).await.unwrap(), None);
    no_hang(system.shutdown()).await;
}

/// A persistent actor, under the same lints.
#[cfg(feature = "persist")]
mod persistent {
    use super::no_hang;
    use bactor::prelude::*;
    use serde::{Deserialize, Serialize};

    /// A documented persistent actor.
    #[actor]
    #[persistent(snapshot_every = 10, keep_snapshots = 1)]
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub struct Ledger {
        total: u64,
    }

    #[actor]
    impl Ledger {
        /// Records an amount.
        ///
        /// # Errors
        ///
        /// When the journal refuses the write.
        #[handler]
        pub async fn record(
            &mut self,
            ctx: &mut Context<Self>,
            amount: u64,
        ) -> Result<u64, PersistError> {
            self.persist(ctx, LedgerEvent::Recorded { amount }).await?;
            Ok(self.total)
        }

        /// Applies a recorded amount.
        #[event]
        fn recorded(&mut self, amount: u64) {
            self.total += amount;
        }
    }

    #[tokio::test]
    async fn linted_persistent_actor_runs() {
        let store = bactor::persist::MemoryStore::new();
        let system = ActorSystem::builder().persistence(store).build();
        let l = no_hang(system.spawn_persistent("l", Ledger::default))
            .await
            .unwrap();
        assert_eq!(no_hang(l.record(2)).await.unwrap(), 2);
        no_hang(system.shutdown()).await;
    }
}
