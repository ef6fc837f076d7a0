//! Middleware: a system-wide timing layer, an authorisation layer on one actor (it looks
//! at the typed message), a send layer that refuses oversized payments before they are
//! queued, a send layer that stamps a trace id on every message to the ledger sent
//! without one, and a trace id carried in message headers from a teller to the ledger.
//!
//! `cargo run --example middleware`

use std::sync::Arc;

use bactor::middleware::{Flow, Incoming, Outgoing, ReceiveMiddleware, SendMiddleware, Timing};
use bactor::prelude::*;

#[actor]
#[derive(Default)]
struct Ledger {
    balance: i64,
}

#[actor]
impl Ledger {
    #[handler]
    fn pay(&mut self, user: String, amount: i64) -> i64 {
        println!("  {user} pays {amount}");
        self.balance += amount;
        self.balance
    }

    #[handler]
    fn balance(&self) -> i64 {
        self.balance
    }
}

/// Only known users may pay.
struct Known(Vec<&'static str>);

impl ReceiveMiddleware for Known {
    fn before(&self, msg: &Incoming<'_>) -> Flow {
        match msg.message::<LedgerMsg>() {
            Some(LedgerMsg::Pay { user, .. }) if !self.0.contains(&user.as_str()) => {
                Flow::Refuse(format!("unknown user {user}"))
            }
            _ => Flow::Continue,
        }
    }
}

/// Takes payments at the counter and passes them, with their headers, to the ledger.
#[actor]
struct Teller {
    ledger: LedgerRef,
}

#[actor]
impl Teller {
    #[handler]
    async fn deposit(
        &self,
        ctx: &mut Context<Self>,
        user: String,
        amount: i64,
    ) -> Result<i64, AskError> {
        ctx.propagate(&self.ledger).pay(user, amount).await
    }
}

/// Prints the trace id of every message that has one (system-wide).
struct TraceLog;

impl ReceiveMiddleware for TraceLog {
    fn before(&self, msg: &Incoming<'_>) -> Flow {
        if let Some(id) = msg.headers().get("trace-id") {
            println!("  [trace {id}] {}", msg.name());
        }
        Flow::Continue
    }
}

/// Payments over 1,000 never reach the mailbox.
struct Limit;

impl SendMiddleware for Limit {
    fn before_send(&self, msg: &Outgoing<'_>) -> Flow {
        match msg.message::<LedgerMsg>() {
            Some(LedgerMsg::Pay { amount, .. }) if *amount > 1_000 => {
                Flow::Refuse(format!("{amount} is over the limit"))
            }
            _ => Flow::Continue,
        }
    }
}

/// Messages to the ledger sent without a trace id get one of their own.
#[derive(Default)]
struct StampTrace(std::sync::atomic::AtomicU64);

impl SendMiddleware for StampTrace {
    fn before_send(&self, _: &Outgoing<'_>) -> Flow {
        Flow::Continue
    }

    fn add_headers(&self, _: &Outgoing<'_>, headers: &mut Headers) {
        if headers.get("trace-id").is_none() {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            headers.insert("trace-id", format!("ledger-{n}"));
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let timing = Arc::new(Timing::default());
    let system = ActorSystem::builder()
        .receive_middleware(Arc::clone(&timing))
        .receive_middleware(TraceLog)
        .build();
    let ledger = system
        .spawn_props(
            Props::from_producer(Ledger::default)
                .receive_middleware(Known(vec!["ada", "bob"]))
                .send_middleware(Limit)
                .send_middleware(StampTrace::default()),
        )
        .await?;

    println!("ada -> {:?}", ledger.pay("ada".into(), 50).await);
    println!(
        "eve -> {:?}",
        ledger
            .pay("eve".into(), 10)
            .await
            .map_err(|e| e.to_string())
    );
    println!(
        "bob -> {:?}",
        ledger
            .pay("bob".into(), 5_000)
            .await
            .map_err(|e| e.to_string())
    );
    println!("balance -> {}", ledger.balance().await?);

    // A request with a trace id: the teller passes it on to the ledger.
    let teller = system
        .spawn(move || Teller {
            ledger: ledger.clone(),
        })
        .await?;
    let request = teller.with_headers(Headers::new().with("trace-id", "req-7"));
    println!("deposit -> {:?}", request.deposit("ada".into(), 25).await?);

    for (message, took) in timing.take() {
        println!("{message} took {took:?}");
    }
    system.shutdown().await;
    Ok(())
}
