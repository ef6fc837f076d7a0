//! The quickstart: a counter actor, asked and told through its generated typed ref.
//!
//! Run with `cargo run --example quickstart`.

use std::time::Duration;

use bactor::prelude::*;

/// A counter. `#[actor]` on the struct generates `CounterRef`.
#[actor]
#[derive(Default)]
struct Counter {
    count: u64,
}

/// `#[actor]` on the impl generates `CounterMsg`, the methods of `CounterRef` and
/// `impl Actor for Counter`.
#[actor]
impl Counter {
    /// Adds `by` and returns the new total.
    #[handler]
    fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }

    /// The current total.
    #[handler]
    fn get(&self) -> u64 {
        self.count
    }

    /// Subtracts, refusing to go below zero: the `Err` reaches the asker.
    #[handler]
    fn take(&mut self, n: u64) -> Result<u64, String> {
        self.count = self
            .count
            .checked_sub(n)
            .ok_or_else(|| format!("cannot take {n} from {}", self.count))?;
        Ok(self.count)
    }

    async fn pre_start(&mut self, ctx: &mut Context<Self>) {
        println!("counter {} started", ctx.pid());
    }

    async fn post_stop(&mut self) {
        println!("counter stopped at {}", self.count);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let counter: CounterRef = system.spawn(Counter::default).await?;

    println!("add(5)   -> {}", counter.add(5).await?); // ask: typed reply
    counter.add(1).tell().await?; // tell: waits only for mailbox room
    counter.add(1).try_tell()?; // tell now, or get the message back
    let n = counter.add(0).timeout(Duration::from_millis(500)).await?;
    println!("total    -> {n}");
    println!("take(3)  -> {:?}", counter.take(3).await);
    println!("take(99) -> {:?}", counter.take(99).await);
    assert_eq!(counter.get().await?, 4);

    system.shutdown().await;
    println!("after shutdown, ask -> {:?}", counter.get().await);
    Ok(())
}
