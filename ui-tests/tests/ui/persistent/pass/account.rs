#![deny(warnings)]

use bactor::prelude::*;
use serde::{Deserialize, Serialize};

#[persistent(snapshot_every = 2, keep_snapshots = 1)]
#[actor]
#[derive(Default, Serialize, Deserialize)]
struct Account {
    balance: u64,
}

#[actor]
impl Account {
    #[handler]
    async fn deposit(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, PersistError> {
        self.persist(ctx, AccountEvent::Deposited { amount }).await?;
        Ok(self.balance)
    }

    /// Documented events keep their docs on the variant.
    #[event]
    fn deposited(&mut self, amount: u64) {
        self.balance += amount;
    }

    #[event]
    fn reset(&mut self) {
        self.balance = 0;
    }
}

#[tokio::main]
async fn main() {
    let store = bactor::persist::MemoryStore::new();
    let system = ActorSystem::builder().persistence(store).build();
    let a = system.spawn_persistent("a", Account::default).await.unwrap();
    assert_eq!(a.deposit(2).await.unwrap(), 2);
    let _reset = AccountEvent::Reset {};
    system.shutdown().await;
}
