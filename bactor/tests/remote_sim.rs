#![cfg(feature = "remote")]
//! Remote actors on a simulated network (turmoil): the real tonic/h2 stack and the real
//! endpoint over simulated TCP, in simulated time, on one thread. A partition between two
//! nodes makes the peer down (watchers told, asks failed), healing it resumes traffic
//! with the same refs, and a run is replayed exactly from its seed.
//!
//! `BACTOR_SIM_SEED=<n>` replays one seed (printed by every run).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bactor::RemoteFailure;
use bactor::prelude::*;
use bactor::remote::NodeBuilder;
use bactor::remote::transport::{Accepting, BoxFuture, Connection, Transport, accepting};
use tokio::sync::mpsc;

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

#[actor]
struct Watcher {
    seen: mpsc::UnboundedSender<String>,
}

#[actor]
impl Watcher {
    #[handler]
    fn watch(&mut self, ctx: &mut Context<Self>, target: AccountRef) {
        ctx.watch(&target);
    }

    fn on_terminated(&mut self, _pid: Pid, reason: &StopReason) {
        let _ = self.seen.send(reason.to_string());
    }
}

/// turmoil's simulated TCP as a node transport.
struct Simulated;

impl Transport for Simulated {
    fn listen(&self, addr: SocketAddr) -> BoxFuture<std::io::Result<(SocketAddr, Accepting)>> {
        Box::pin(async move {
            let listener = turmoil::net::TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            let (tx, rx) = mpsc::channel(16);
            tokio::spawn(async move {
                loop {
                    let accepted = listener.accept().await.map(|(s, _)| Connection::new(s));
                    if tx.send(accepted).await.is_err() {
                        break;
                    }
                }
            });
            Ok((local, accepting(rx)))
        })
    }

    fn connect(&self, address: String) -> BoxFuture<std::io::Result<Connection>> {
        Box::pin(async move {
            let stream = turmoil::net::TcpStream::connect(address).await?;
            Ok(Connection::new(stream))
        })
    }
}

const PORT: u16 = 7000;

fn builder(host: &str, seed: u64) -> NodeBuilder {
    let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT);
    NodeBuilder::new(bind, "simulated")
        .advertise(format!("{host}:{PORT}"))
        .transport(Arc::new(Simulated))
        .kind(Account::default)
        .heartbeat(Duration::from_millis(200), Duration::from_secs(1))
        .down_after(Duration::from_secs(2))
        .reconnect(Duration::from_millis(100), Duration::from_millis(400))
        .request_timeout(Duration::from_secs(5))
        .endpoint(|c| c.jitter_seed = Some(seed))
}

/// Milliseconds of simulated time since the start.
fn now() -> u128 {
    turmoil::sim_elapsed().unwrap_or_default().as_millis()
}

/// One simulated run; what node A saw, in order, with simulated times.
fn run(seed: u64) -> Vec<String> {
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(5))
        .build();
    sim.host("b", move || async move {
        let b = builder("b", seed).start().await?;
        b.spawn_named("savings", Account::default).await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    let trace = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&trace);
    sim.client("a", async move {
        let note = |what: String| log.lock().unwrap().push(format!("{:>6} ms {what}", now()));
        let a = builder("a", seed).start().await?;
        let account = loop {
            match a.lookup_remote::<Account>("b:7000", "savings").await {
                Ok(account) => break account,
                Err(e) => {
                    note(format!("lookup failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        note(format!("deposit -> {:?}", account.deposit(5).await));
        let (tx, mut seen) = mpsc::unbounded_channel();
        let watcher = a.spawn(move || Watcher { seen: tx.clone() }).await?;
        watcher.watch(account.clone()).await?;

        turmoil::partition("a", "b");
        let partitioned = now();
        note("partition".into());
        let reason = seen
            .recv()
            .await
            .expect("the watcher hears of the partition");
        note(format!("watcher: {reason}"));
        assert_eq!(reason, "node b:7000 is down");
        let took = now() - partitioned;
        // Bounded by the configured peer timeout (1 s) and down timeout (2 s).
        assert!(took <= 3_500, "node down after {took} ms");
        match account.deposit(1).await {
            Err(AskError::Remote(
                RemoteFailure::NodeDown(_) | RemoteFailure::Unreachable { .. },
            )) => {
                note("deposit during the partition failed".into());
            }
            other => panic!("a deposit during the partition: {other:?}"),
        }

        turmoil::repair("a", "b");
        note("repair".into());
        // The same ref works again once the link is back: nobody restarted anything.
        let balance = loop {
            match account.deposit(1).timeout(Duration::from_secs(2)).await {
                Ok(balance) => break balance,
                Err(e) => {
                    note(format!("deposit after repair: {e}"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        note(format!("deposit after repair -> {balance}"));
        assert!(balance == 6 || balance == 7, "{balance}");
        a.shutdown().await;
        Ok(())
    });
    if let Err(e) = sim.run() {
        panic!(
            "simulation with seed {seed} failed: {e}\ntrace:\n{}",
            trace.lock().unwrap().join("\n")
        );
    }
    trace.lock().unwrap().clone()
}

#[test]
fn partition_is_node_down_repair_resumes_and_a_seed_replays_the_run() {
    let seed = std::env::var("BACTOR_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("simulation seed: {seed} (BACTOR_SIM_SEED={seed} replays it)");
    let first = run(seed);
    eprintln!("{}", first.join("\n"));
    assert!(first.iter().any(|l| l.ends_with("repair")));
    // The same seed, the same run, to the simulated millisecond.
    let second = run(seed);
    assert_eq!(first, second, "seed {seed} did not replay the same run");
}
