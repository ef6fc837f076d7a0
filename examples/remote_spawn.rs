//! Spawning actors on another node with arguments, in one process.
//!
//! Node B lets others spawn `Teller`s from a branch name and a ref to the account they pay
//! into (`NodeBuilder::kind_with`). Node A keeps the account and spawns two tellers on B,
//! each from its own arguments (`Node::spawn_remote_with`); both pay into A's account
//! through the ref they were given. One teller trips and is restarted by its supervisor:
//! its fresh state is made from the same arguments.
//!
//! ```text
//! cargo run --example remote_spawn
//! ```

use bactor::prelude::*;
use bactor::remote::NodeBuilder;

/// An account on node A: remote, so that refs to it work on B.
#[actor]
#[derive(Default)]
struct Account {
    balance: u64,
}

#[actor(remote)]
impl Account {
    #[handler]
    fn deposit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.balance
    }
}

/// A teller on node B, made from the arguments A sent.
#[actor]
struct Teller {
    branch: String,
    account: AccountRef,
    served: u64,
}

#[actor(remote)]
impl Teller {
    /// Pays into the account, wherever it lives.
    #[handler]
    async fn pay_in(&mut self, amount: u64) -> Result<u64, String> {
        self.served += 1;
        self.account
            .deposit(amount)
            .await
            .map_err(|e| e.to_string())
    }

    #[handler]
    fn desk(&self) -> String {
        format!("{} has served {}", self.branch, self.served)
    }

    #[handler]
    fn trip(&self) {
        panic!("{} tripped", self.branch);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The teller panics by design below: its supervisor handles it, no need for the
    // default hook's backtrace.
    bactor::quiet_actor_panics();
    let any_port = "127.0.0.1:0".parse()?;
    let a = NodeBuilder::new(any_port, "branch secret").start().await?;
    let b = NodeBuilder::new(any_port, "branch secret")
        .kind_with(|(branch, account): (String, AccountRef)| Teller {
            branch,
            account,
            served: 0,
        })
        .start()
        .await?;
    println!("node A at {}, node B at {}", a.address(), b.address());

    let account = a.spawn(Account::default).await?;
    let mut tellers = Vec::new();
    for branch in ["north", "south"] {
        let args = (branch.to_owned(), account.clone());
        let teller = a
            .spawn_remote_with::<Teller, _>(b.address(), Some(branch), &args)
            .await?;
        println!("teller {branch} spawned on B as {}", teller.pid());
        tellers.push(teller);
    }
    for (n, teller) in tellers.iter().cycle().take(5).enumerate() {
        let balance = teller
            .pay_in(10 * (n as u64 + 1))
            .await
            .map_err(|e| e.to_string())?;
        println!("{} -> balance {balance}", teller.desk().await?);
    }

    // A panic in a handler: the supervisor restarts the teller from the same arguments.
    let north = &tellers[0];
    let tripped = north.trip().await;
    println!("north tripped: {}", tripped.is_err());
    println!("after its restart: {}", north.desk().await?);
    println!("balance on A: {}", account.deposit(0).await?);

    // A kind spawned without the arguments it needs is refused, saying so.
    if let Err(e) = a.spawn_remote::<Teller>(b.address(), None).await {
        println!("refused: {e}");
    }
    a.shutdown().await;
    b.shutdown().await;
    Ok(())
}
