//! The dashboard: a live view of a running system in the browser.
//!
//! Run with `cargo run --example dashboard` and open the URL it prints.
//!
//! ```text
//! guardian
//! ├── workshop      #[supervise(max_restarts = 1000, within = "1m")]
//! │   ├── flaky     fails one job in 25 (a panic): restarted each time
//! │   ├── busy      slower than its feed: its mailbox fills in bursts, then drains
//! │   └── clerk-1..3, idle
//! └── temp          stops after five seconds; what is sent to it then is a dead letter
//! ```
//!
//! Options: `--bind ADDR` (default `127.0.0.1:0`; any other address needs a token),
//! `--token TOKEN`, `--calm` (the flaky worker fails only when told), `--for SECONDS`
//! (stop after that long; default: run until Ctrl-C). A line `fail` on standard input
//! makes the flaky worker fail once.
//!
//! Metrics are served at `/metrics` (Prometheus text) on the same address.

use std::net::SocketAddr;
use std::time::Duration;

use bactor::dashboard::Dashboard;
use bactor::prelude::*;
use tokio::io::AsyncBufReadExt;

#[actor]
#[derive(Default)]
struct Flaky {
    done: u64,
}

#[actor]
impl Flaky {
    /// Does job `n`; one in 25 fails unless `calm`.
    #[handler]
    async fn job(&mut self, n: u64, calm: bool) -> u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        if !calm && n % 25 == 7 {
            panic!("flaky worker tripped on job {n}");
        }
        self.done += 1;
        self.done
    }

    /// Fails on purpose.
    #[handler]
    fn fail(&mut self) {
        panic!("flaky worker told to fail");
    }
}

#[actor]
#[derive(Default)]
struct Busy {
    done: u64,
}

#[actor]
impl Busy {
    /// A slow job: 20 ms.
    #[handler]
    async fn job(&mut self) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.done += 1;
    }
}

#[actor]
#[derive(Default)]
struct Clerk;

#[actor]
impl Clerk {
    #[handler]
    fn file(&self) {}
}

#[actor]
#[supervise(strategy = one_for_one, max_restarts = 1000, within = "1m")]
#[derive(Default)]
struct Workshop;

#[actor]
impl Workshop {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.spawn_child_props(Props::from_producer(Flaky::default).name("flaky"))
            .await?;
        ctx.spawn_child_props(Props::from_producer(Busy::default).name("busy"))
            .await?;
        for i in 1..=3 {
            ctx.spawn_child_props(Props::from_producer(Clerk::default).name(format!("clerk-{i}")))
                .await?;
        }
        Ok(())
    }
}

struct Options {
    bind: SocketAddr,
    token: Option<String>,
    calm: bool,
    run_for: Option<Duration>,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: None,
        calm: false,
        run_for: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} takes a value"));
        match arg.as_str() {
            "--bind" => o.bind = value()?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--token" => o.token = Some(value()?),
            "--calm" => o.calm = true,
            "--for" => {
                let secs: f64 = value()?.parse().map_err(|e| format!("--for: {e}"))?;
                o.run_for = Some(Duration::from_secs_f64(secs));
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options()?;
    // The flaky worker panics by design: its failures are on the page, not on stderr.
    bactor::quiet_actor_panics();
    let prometheus = bactor::metrics::prometheus()?;
    let system = ActorSystem::new();
    system
        .spawn_props_started(Props::from_producer(Workshop::default).name("workshop"))
        .await?;
    let flaky: FlakyRef = system.lookup::<Flaky>("flaky")?;
    let busy: BusyRef = system.lookup::<Busy>("busy")?;
    let temp = system.spawn_named("temp", Clerk::default).await?;

    let mut dashboard = Dashboard::new(&system).bind(o.bind).prometheus(prometheus);
    if let Some(token) = &o.token {
        dashboard = dashboard.token(token);
    }
    let dashboard = dashboard.serve().await?;
    // Tests and scripts read this line.
    println!("dashboard: {}", dashboard.url());

    // The flaky worker gets a job every 100 ms.
    let calm = o.calm;
    let feed = flaky.clone();
    tokio::spawn(async move {
        for n in 0.. {
            let _ = feed.job(n, calm).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // The busy worker gets bursts of 60 jobs every 3 s: 1.2 s of work each.
    tokio::spawn(async move {
        loop {
            for _ in 0..60 {
                let _ = busy.job().tell().await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    });
    // `temp` stops after 5 s; a message a second to it then is a dead letter.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        temp.stop();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = temp.file().tell().await;
        }
    });
    // `fail` on standard input: the flaky worker fails once.
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == "fail" {
                let _ = flaky.fail().tell().await;
            }
        }
    });

    match o.run_for {
        Some(d) => tokio::time::sleep(d).await,
        None => {
            println!("Ctrl-C to stop");
            tokio::signal::ctrl_c().await?;
        }
    }
    dashboard.shutdown().await;
    system.shutdown().await;
    Ok(())
}
