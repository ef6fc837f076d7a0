//! Routers: a round-robin pool of workers (one that crashes is restarted, one that quits
//! is replaced, the pool resized), a consistent-hash group of session shards (a user's
//! messages always reach the same shard), and a broadcast.
//!
//! `cargo run --example routers`

use std::collections::BTreeMap;

use bactor::prelude::*;
use bactor::router::{ConsistentHash, RoundRobin};

#[actor]
#[derive(Default)]
struct Worker {
    jobs: u32,
}

#[actor]
impl Worker {
    #[handler]
    fn work(&mut self, ctx: &mut Context<Self>, job: u32) -> String {
        self.jobs += 1;
        format!("job {job} done by {}", ctx.pid())
    }

    #[handler]
    fn quit(&self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// One shard of the sessions: keeps the visits of the users routed to it.
#[actor]
#[derive(Default)]
struct Shard {
    visits: BTreeMap<String, u32>,
}

#[actor]
impl Shard {
    /// Routed by user: every visit of one user lands on the same shard.
    #[handler(route_key = user)]
    fn visit(&mut self, user: String) -> u32 {
        let n = self.visits.entry(user).or_default();
        *n += 1;
        *n
    }

    #[handler]
    fn users(&self) -> Vec<String> {
        self.visits.keys().cloned().collect()
    }

    #[handler]
    fn reset(&mut self) {
        self.visits.clear();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();

    // A pool: the router spawns and supervises three workers.
    let pool = system.spawn_pool(3, Worker::default, RoundRobin).await?;
    for job in 0..4 {
        println!("{}", pool.work(job).await?);
    }
    pool.quit().await?; // that worker stops; the pool replaces it
    pool.resize(4).await?;
    println!(
        "pool routees after a quit and a resize: {:?}",
        pool.routees()
    );

    // A group over existing shards, consistent-hash routed.
    let mut shards = Vec::new();
    for _ in 0..3 {
        shards.push(system.spawn(Shard::default).await?);
    }
    let sessions = system.spawn_group(shards.clone(), ConsistentHash).await?;
    for user in ["ada", "bob", "cy", "ada", "dee", "ada", "bob"] {
        let n = sessions.visit(user.to_owned()).await?;
        println!("{user}: visit {n}");
    }
    for (i, shard) in shards.iter().enumerate() {
        println!("shard {i} holds {:?}", shard.users().await?);
    }

    // A broadcast: every shard gets its own `reset`.
    let everyone = system.spawn_broadcast_pool(2, Shard::default).await?;
    println!(
        "reset sent to {} shards",
        everyone.tell(|s| s.reset()).await
    );

    system.shutdown().await;
    Ok(())
}
