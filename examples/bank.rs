//! An event-sourced bank account on SQLite whose balance survives a process restart.
//!
//! Run it twice: `cargo run --example bank` — the second run continues where the first
//! stopped. The database file is `bactor-bank.db` in the current directory (or the path
//! in `BANK_DB`); delete it to start over.

use bactor::persist::SqliteStore;
use bactor::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug)]
pub enum BankError {
    Insufficient { balance: u64, wanted: u64 },
    Store(PersistError),
}

impl std::fmt::Display for BankError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BankError::Insufficient { balance, wanted } => {
                write!(f, "cannot withdraw {wanted}: balance is {balance}")
            }
            BankError::Store(e) => write!(f, "not recorded: {e}"),
        }
    }
}

impl std::error::Error for BankError {}

impl From<PersistError> for BankError {
    fn from(e: PersistError) -> Self {
        BankError::Store(e)
    }
}

/// The account's state: the fold of its events. Snapshots every 5 events keep recovery
/// short; the 2 newest are kept.
#[actor]
#[persistent(snapshot_every = 5, keep_snapshots = 2)]
#[derive(Default, Serialize, Deserialize)]
struct Account {
    balance: u64,
    transactions: u64,
}

#[actor]
impl Account {
    /// Deposits `amount`; returns the new balance once the event is stored.
    #[handler]
    async fn deposit(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, BankError> {
        self.persist(ctx, AccountEvent::Deposited { amount })
            .await?;
        Ok(self.balance)
    }

    /// Withdraws `amount` if the balance allows it.
    #[handler]
    async fn withdraw(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, BankError> {
        if amount > self.balance {
            return Err(BankError::Insufficient {
                balance: self.balance,
                wanted: amount,
            });
        }
        self.persist(ctx, AccountEvent::Withdrew { amount }).await?;
        Ok(self.balance)
    }

    /// The balance, the number of transactions and the journal position.
    #[handler]
    fn statement(&self, ctx: &mut Context<Self>) -> (u64, u64, u64) {
        (self.balance, self.transactions, ctx.last_sequence_nr())
    }

    #[event]
    fn deposited(&mut self, amount: u64) {
        self.balance += amount;
        self.transactions += 1;
    }

    #[event]
    fn withdrew(&mut self, amount: u64) {
        self.balance -= amount;
        self.transactions += 1;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var("BANK_DB").unwrap_or_else(|_| "bactor-bank.db".to_owned());
    let store = SqliteStore::open(&path).await?;
    let system = ActorSystem::builder().persistence(store).build();

    let account = system
        .spawn_persistent("account-42", Account::default)
        .await?;
    let (balance, transactions, seq) = account.statement().await?;
    println!(
        "recovered account-42 from {path}: balance {balance} after {transactions} transactions (journal at #{seq})"
    );

    println!("deposit 100  -> balance {}", account.deposit(100).await?);
    println!("withdraw 30  -> balance {}", account.withdraw(30).await?);
    match account.withdraw(1_000_000).await {
        Err(AskError::Handler(e)) => println!("withdraw 1M  -> refused: {e}"),
        other => println!("withdraw 1M  -> {other:?}"),
    }
    let (balance, transactions, seq) = account.statement().await?;
    println!("now: balance {balance} after {transactions} transactions (journal at #{seq})");
    println!("run me again: the balance continues from {balance}");

    system.shutdown().await;
    Ok(())
}
