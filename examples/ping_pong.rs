//! Two actors playing ping-pong through each other's typed refs.
//!
//! Run with `cargo run --example ping_pong`.

use bactor::prelude::*;
use tokio::sync::oneshot;

#[actor]
struct Ping {
    done: Option<oneshot::Sender<u32>>,
}

#[actor]
impl Ping {
    /// Receives a pong; sends the next ping or reports the end.
    #[handler]
    async fn pong(&mut self, n: u32, ponger: PongRef, ctx: &mut Context<Self>) {
        if n == 0 {
            println!("ping: done");
            if let Some(done) = self.done.take() {
                let _ = done.send(ctx.pid().id().try_into().unwrap_or(0));
            }
            return;
        }
        println!("ping {n}");
        let me = ctx.myself().typed();
        // A tell: no reply wanted, the pong comes back as a message of its own.
        if ponger.ping(n - 1, me).tell().await.is_err() {
            println!("ping: ponger is gone");
        }
    }
}

#[actor]
#[derive(Default)]
struct Pong {
    hits: u32,
}

#[actor]
impl Pong {
    #[handler]
    async fn ping(&mut self, n: u32, pinger: PingRef, ctx: &mut Context<Self>) {
        self.hits += 1;
        println!("  pong {n}");
        let me = ctx.myself().typed();
        if pinger.pong(n, me).tell().await.is_err() {
            println!("pong: pinger is gone");
        }
    }

    #[handler]
    fn hits(&self) -> u32 {
        self.hits
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let (done_tx, done_rx) = oneshot::channel();
    let done_tx = std::sync::Mutex::new(Some(done_tx));
    let ping = system
        .spawn(move || Ping {
            done: done_tx.lock().ok().and_then(|mut d| d.take()),
        })
        .await?;
    let pong = system.spawn(Pong::default).await?;

    ping.pong(5, pong.clone()).tell().await?;
    done_rx.await?;
    println!("pong was hit {} times", pong.hits().await?);
    system.shutdown().await;
    Ok(())
}
