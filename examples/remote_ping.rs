//! Two processes, two nodes: ping-pong over the network, and what happens when one dies.
//!
//! In one terminal, node B hosts a `Ponger` named "ponger":
//!
//! ```text
//! cargo run --example remote_ping -- --node b --listen 127.0.0.1:7001
//! ```
//!
//! In another, node A finds it, watches it and pings it:
//!
//! ```text
//! cargo run --example remote_ping -- --node a --listen 127.0.0.1:7000 --peer 127.0.0.1:7001
//! ```
//!
//! A prints `pong 1 from <pid>`, `pong 2 ...` once every 200 ms. Kill B (`kill -9`, or
//! Ctrl-C): A's watcher reports `terminated <pid>: node 127.0.0.1:7001 is down` within the
//! heartbeat timeout (1.5 s here). Start B again: A finds the new ponger by itself and
//! carries on (`pong ...` from a pid of B's new run), and its old ref reports dead.
//!
//! Options: `--secret S` (both sides, default "remote-ping"), `--count N` (A stops after N
//! pongs; default: run until killed).

use std::time::Duration;

use bactor::prelude::*;
use bactor::remote::{Node, NodeBuilder};
use tokio::sync::mpsc;

/// Answers pings with its own pid, so A can see which run of B answered.
#[actor]
#[derive(Default)]
struct Ponger {
    pings: u64,
}

#[actor(remote)]
impl Ponger {
    #[handler]
    fn ping(&mut self, ctx: &mut Context<Self>, n: u64) -> (u64, Pid) {
        self.pings += 1;
        (n, ctx.pid())
    }
}

/// Watches the ponger on A and reports its end.
#[actor]
struct Watcher {
    ended: mpsc::UnboundedSender<(Pid, String)>,
}

#[actor]
impl Watcher {
    #[handler]
    fn watch(&mut self, ctx: &mut Context<Self>, ponger: PongerRef) {
        ctx.watch(&ponger);
    }

    fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {
        let _ = self.ended.send((pid, reason.to_string()));
    }
}

struct Args {
    node: String,
    listen: std::net::SocketAddr,
    peer: Option<String>,
    secret: String,
    count: Option<u64>,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut node, mut listen, mut peer, mut secret, mut count) =
        (None, None, None, "remote-ping".to_owned(), None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--node" => node = Some(value()?),
            "--listen" => {
                listen = Some(value()?.parse().map_err(|e| format!("--listen: {e}"))?);
            }
            "--peer" => peer = Some(value()?),
            "--secret" => secret = value()?,
            "--count" => count = Some(value()?.parse().map_err(|e| format!("--count: {e}"))?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let node = node.ok_or("--node a|b is required")?;
    let listen = listen.ok_or("--listen ADDR is required")?;
    if node == "a" && peer.is_none() {
        return Err("node a needs --peer ADDR (node b's address)".into());
    }
    Ok(Args {
        node,
        listen,
        peer,
        secret,
        count,
    })
}

async fn start(args: &Args) -> Result<Node, Box<dyn std::error::Error>> {
    let node = NodeBuilder::new(args.listen, args.secret.as_bytes())
        .kind(Ponger::default)
        .heartbeat(Duration::from_millis(250), Duration::from_millis(1500))
        .down_after(Duration::from_millis(1500))
        .reconnect(Duration::from_millis(100), Duration::from_millis(500))
        .request_timeout(Duration::from_secs(2))
        .start()
        .await?;
    Ok(node)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args().map_err(|e| {
        format!("{e}\nusage: remote_ping --node a|b --listen ADDR [--peer ADDR] [--secret S] [--count N]")
    })?;
    let node = start(&args).await?;
    println!(
        "node {} at {} (incarnation {:x})",
        args.node,
        node.address(),
        node.incarnation()
    );
    match (args.node.as_str(), &args.peer) {
        ("b", _) => {
            let ponger = node.spawn_named("ponger", Ponger::default).await?;
            println!("ponger {} ready", ponger.pid());
            // Serves until killed.
            tokio::signal::ctrl_c().await?;
            node.shutdown().await;
        }
        (_, Some(peer)) => ping(&node, peer, args.count).await?,
        _ => unreachable!("checked by args()"),
    }
    Ok(())
}

/// Finds the ponger on `peer` (waiting for it to come up), watches it and pings it; when
/// it is lost, finds the next one.
async fn ping(
    node: &Node,
    peer: &str,
    count: Option<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut ended) = mpsc::unbounded_channel();
    let watcher = node.spawn(move || Watcher { ended: tx.clone() }).await?;
    let mut pongs = 0;
    let mut old: Option<PongerRef> = None;
    loop {
        let ponger = loop {
            match node.lookup_remote::<Ponger>(peer, "ponger").await {
                Ok(p) => break p,
                Err(e) => {
                    println!("looking for the ponger: {e}");
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        };
        println!("found ponger {}", ponger.pid());
        if let Some(old) = old.take() {
            // A ref to the previous run of B: dead, whatever it was.
            match old.ping(0).await {
                Err(AskError::Dead) => println!("old ref {}: dead", old.pid()),
                other => println!("old ref {}: {other:?}", old.pid()),
            }
        }
        watcher.watch(ponger.clone()).await?;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                // The end of the ponger first: a ping in flight does not delay the news.
                biased;
                Some((pid, reason)) = ended.recv() => {
                    println!("terminated {pid}: {reason}");
                    break;
                }
                _ = tick.tick() => match ponger.ping(pongs + 1).timeout(Duration::from_secs(2)).await {
                    Ok((n, from)) => {
                        pongs = n;
                        println!("pong {n} from {from}");
                        if count.is_some_and(|c| pongs >= c) {
                            node.shutdown().await;
                            return Ok(());
                        }
                    }
                    Err(e) => println!("ping failed: {e}"),
                },
            }
        }
        old = Some(ponger);
    }
}
