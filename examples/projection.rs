//! A read model built from a journal: balances per currency, projected from the events of
//! bank accounts, exactly once, resuming across runs.
//!
//! Run it several times: `cargo run --example projection`. Each run moves some money,
//! then brings the read model up to date: the projection handles only the events written
//! since its last run (it stores its offset in the same transaction as the read model).
//! The database file is `bactor-projection.db` in the current directory (or the path in
//! `PROJECTION_DB`); delete it to start over.

use bactor::persist::sqlx::{self, Sqlite, SqliteConnection};
use bactor::persist::{EventEnvelope, HandlerError, Projection, SqlEventHandler, SqliteStore};
use bactor::prelude::*;
use serde::{Deserialize, Serialize};

/// A bank account in one currency. Every event is tagged `bank`: that tag is what the
/// projection reads.
#[actor]
#[persistent(snapshot_every = 20)]
#[derive(Default, Serialize, Deserialize)]
struct Account {
    currency: Option<String>,
    balance: u64,
}

#[actor]
impl Account {
    /// Opens the account in `currency` (once; later calls change nothing).
    #[handler]
    async fn open(
        &mut self,
        ctx: &mut Context<Self>,
        currency: String,
    ) -> Result<(), PersistError> {
        if self.currency.is_none() {
            self.persist(ctx, AccountEvent::Opened { currency }).await?;
        }
        Ok(())
    }

    /// Deposits `amount`; returns the balance.
    #[handler]
    async fn deposit(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, PersistError> {
        self.persist(ctx, AccountEvent::Deposited { amount })
            .await?;
        Ok(self.balance)
    }

    /// Withdraws `amount` if the balance allows it; returns the balance.
    #[handler]
    async fn withdraw(
        &mut self,
        ctx: &mut Context<Self>,
        amount: u64,
    ) -> Result<u64, PersistError> {
        if amount <= self.balance {
            self.persist(ctx, AccountEvent::Withdrew { amount }).await?;
        }
        Ok(self.balance)
    }

    #[event(tags = ["bank"])]
    fn opened(&mut self, currency: String) {
        self.currency = Some(currency);
    }

    #[event(tags = ["bank"])]
    fn deposited(&mut self, amount: u64) {
        self.balance += amount;
    }

    #[event(tags = ["bank"])]
    fn withdrew(&mut self, amount: u64) {
        self.balance -= amount;
    }
}

/// The read model, in the journal's database: which currency each account is in, and
/// the total per currency.
const READ_MODEL: &str = "\
    CREATE TABLE IF NOT EXISTS account_currency (account TEXT PRIMARY KEY, currency TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS balance_by_currency (currency TEXT PRIMARY KEY, total INTEGER NOT NULL);";

/// Updates the read model with one event, on the projection's transaction.
struct BalancesByCurrency;

impl SqlEventHandler<Sqlite> for BalancesByCurrency {
    async fn handle(
        &mut self,
        conn: &mut SqliteConnection,
        event: &EventEnvelope,
    ) -> Result<(), HandlerError> {
        // The payload is the actor's own event type, as JSON.
        let change: i64 = match serde_json::from_str::<AccountEvent>(&event.payload)? {
            AccountEvent::Opened { currency } => {
                sqlx::query(
                    "INSERT OR IGNORE INTO account_currency (account, currency) VALUES (?1, ?2)",
                )
                .bind(&event.persistence_id)
                .bind(currency)
                .execute(&mut *conn)
                .await?;
                0
            }
            AccountEvent::Deposited { amount } => i64::try_from(amount)?,
            AccountEvent::Withdrew { amount } => -i64::try_from(amount)?,
        };
        sqlx::query(
            "INSERT INTO balance_by_currency (currency, total) \
             SELECT currency, ?2 FROM account_currency WHERE account = ?1 \
             ON CONFLICT (currency) DO UPDATE SET total = total + excluded.total",
        )
        .bind(&event.persistence_id)
        .bind(change)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var("PROJECTION_DB").unwrap_or_else(|_| "bactor-projection.db".to_owned());
    let store = SqliteStore::open(&path).await?;
    sqlx::raw_sql(READ_MODEL).execute(store.pool()).await?;
    let system = ActorSystem::builder().persistence(store.clone()).build();

    // Move some money: the write side.
    let accounts = [("alice", "EUR"), ("bob", "EUR"), ("carol", "USD")];
    let mut expected = std::collections::BTreeMap::<&str, u64>::new();
    for (i, (name, currency)) in accounts.into_iter().enumerate() {
        let account = system.spawn_persistent(name, Account::default).await?;
        account.open(currency.to_owned()).await?;
        account.deposit(100 * (i as u64 + 1)).await?;
        let balance = account.withdraw(30).await?;
        *expected.entry(currency).or_default() += balance;
    }

    // Bring the read model up to date: the read side, exactly once.
    let projection = Projection::by_tag("balance-by-currency", "bank");
    let run = projection
        .run_in_transaction(&store, BalancesByCurrency)
        .await?;
    println!(
        "projection `{}`: handled {} new events, now at offset {}",
        projection.name(),
        run.handled,
        run.offset
    );
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT currency, total FROM balance_by_currency ORDER BY currency")
            .fetch_all(store.pool())
            .await?;
    for (currency, total) in &rows {
        println!("  {currency}: {total}");
    }
    // The read model agrees with the accounts' own state.
    for (currency, total) in &rows {
        let want = expected.get(currency.as_str()).copied().unwrap_or(0);
        assert_eq!(u64::try_from(*total)?, want, "{currency}");
    }
    println!(
        "run me again: the projection resumes after offset {}",
        run.offset
    );

    system.shutdown().await;
    Ok(())
}
