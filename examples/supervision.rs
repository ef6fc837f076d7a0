//! A small supervision tree with a flaky worker; every decision is printed.
//!
//! Run with `cargo run --example supervision`.
//!
//! ```text
//! guardian
//! └── manager      #[supervise(max_restarts = 3, within = "10s", backoff = ...)]
//!     ├── flaky    panics on every third job, fails with a typed error on "poison"
//!     └── steady   never fails
//! ```

use std::time::Duration;

use bactor::prelude::*;

#[derive(Debug)]
struct Poisoned(String);

impl std::fmt::Display for Poisoned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "poisoned job `{}`", self.0)
    }
}

impl std::error::Error for Poisoned {}

/// Poisoned jobs stop the worker; anything else (panics) restarts it.
fn decide(error: &ActorError) -> Directive {
    if error.downcast_ref::<Poisoned>().is_some() {
        Directive::Stop
    } else {
        Directive::Restart
    }
}

#[actor]
#[derive(Default)]
struct Flaky {
    done: u32,
}

#[actor]
impl Flaky {
    /// Does a job; every third one panics, and a "poison" job is a failure.
    #[handler(fail_on_error)]
    fn job(&mut self, name: String) -> Result<u32, Poisoned> {
        if name == "poison" {
            return Err(Poisoned(name));
        }
        self.done += 1;
        if self.done.is_multiple_of(3) {
            panic!("flaky worker tripped on `{name}`");
        }
        Ok(self.done)
    }

    fn post_restart(&mut self, reason: &ActorError) {
        println!("    flaky: fresh instance after: {reason}");
    }
}

#[actor]
#[derive(Default)]
struct Steady {
    done: u32,
}

#[actor]
impl Steady {
    #[handler]
    fn job(&mut self) -> u32 {
        self.done += 1;
        self.done
    }
}

#[actor]
#[supervise(
    strategy = one_for_one,
    max_restarts = 3,
    within = "10s",
    backoff = exponential(min = "20ms", max = "200ms"),
    decide = decide,
)]
#[derive(Default)]
struct Manager;

#[actor]
impl Manager {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.spawn_child_props(Props::from_producer(Flaky::default).name("flaky"))
            .await?;
        ctx.spawn_child_props(Props::from_producer(Steady::default).name("steady"))
            .await?;
        Ok(())
    }

    fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {
        println!("    manager: child {pid} ended: {reason}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The flaky worker panics by design: its panics reach the decisions printed below
    // (with their location) instead of stderr's backtraces.
    bactor::quiet_actor_panics();
    let system = ActorSystem::new();
    let mut events = system
        .events()
        .subscribe_filtered(|e| matches!(e, SystemEvent::Supervisor(_)));
    tokio::spawn(async move {
        while let Some(SystemEvent::Supervisor(e)) = events.recv().await {
            let on = e.message.unwrap_or("a lifecycle hook");
            println!(
                "  decision: {} for {} (failed in {on}: {}), backoff {:?}",
                e.directive, e.child, e.reason, e.delay
            );
        }
    });

    // Returns once the manager's pre_start has run, so its children exist.
    let manager = system.spawn_started(Manager::default).await?;
    let flaky: FlakyRef = system.lookup::<Flaky>("flaky")?;
    let steady: SteadyRef = system.lookup::<Steady>("steady")?;

    for i in 1..=7 {
        let job = format!("job-{i}");
        match flaky.job(job.clone()).await {
            Ok(n) => println!("{job}: done ({n} since the last restart)"),
            Err(e) => println!("{job}: {e}"),
        }
        // Give a restart (and its backoff) time to happen before the next job.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("steady is unaffected: {} jobs", steady.job().await?);

    println!("poison:  {:?}", flaky.job("poison".into()).await.err());
    flaky.stopped().await;
    println!(
        "flaky alive: {}, steady alive: {}",
        flaky.is_alive(),
        steady.is_alive()
    );

    manager.stop();
    manager.stopped().await;
    system.shutdown().await;
    Ok(())
}
