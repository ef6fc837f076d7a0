//! Testing actors with `bactor::testkit` (feature `testkit`): a probe stands in for the
//! actor's collaborator, a test supervisor records failures and directives, and the paused
//! clock makes a 60-second silence take no time.
//!
//! `cargo run --example testing` runs the scenario below; `cargo test --example testing`
//! runs the same checks as tests, which is how you would use the kit.

use std::time::Duration;

use bactor::prelude::*;
use bactor::testkit::{TestProbe, TestSupervisor, clock};

/// What a thermostat reports.
#[derive(Debug, Clone, PartialEq)]
enum Alert {
    TooHot(f64),
    Silent,
}

/// Where alerts go: a pager actor in production, a probe in tests.
type Notify = Box<dyn Fn(Alert) + Send + Sync>;

#[derive(Debug)]
struct BadReading(f64);

impl std::fmt::Display for BadReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "impossible reading {}", self.0)
    }
}

impl std::error::Error for BadReading {}

#[actor]
struct Thermostat {
    limit: f64,
    notify: Notify,
}

#[actor]
impl Thermostat {
    /// Records a reading; above the limit, an alert. A reading below absolute zero is a
    /// broken sensor: a failure, for the supervisor.
    #[handler(fail_on_error)]
    fn record(&mut self, celsius: f64) -> Result<(), BadReading> {
        if celsius < -273.15 {
            return Err(BadReading(celsius));
        }
        if celsius > self.limit {
            (self.notify)(Alert::TooHot(celsius));
        }
        Ok(())
    }

    fn pre_start(&mut self, ctx: &mut Context<Self>) {
        ctx.set_receive_timeout(Duration::from_secs(60));
    }

    /// No reading for a minute.
    fn on_receive_timeout(&mut self) {
        (self.notify)(Alert::Silent);
    }
}

/// The checks, written as a test would be.
async fn check() {
    let system = ActorSystem::new();
    // The probe stands in for the pager; give its sink to the actor under test.
    let mut pager = TestProbe::<Alert>::new(&system)
        .await
        .with_timeout(Duration::from_secs(120));
    let strategy = SupervisorStrategy::one_for_one().max_restarts(3);
    let mut sup = TestSupervisor::new(&system, strategy).await;
    let sink = pager.actor_ref().sink();
    let thermostat = sup
        .spawn(move || Thermostat {
            limit: 30.0,
            notify: Box::new(sink.clone()),
        })
        .await
        .expect("spawned");

    // Alerts above the limit only.
    thermostat.record(21.5).await.expect("recorded");
    thermostat.record(35.0).await.expect("recorded");
    pager.expect_msg_eq(Alert::TooHot(35.0)).await;

    // A broken sensor fails the actor; its supervisor restarts it.
    let _ = thermostat.record(-300.0).await;
    let failure = sup.expect_directive(Directive::Restart).await;
    println!("supervisor: {} -> {:?}", failure.reason, failure.directive);
    sup.expect_restarted(thermostat.pid()).await;

    // A minute of silence, on the paused clock: no time passes for real.
    let (alert, after) = clock::timed(pager.expect_msg()).await;
    assert_eq!(alert, Alert::Silent);
    assert_eq!(after, Duration::from_secs(60));
    println!("pager: {alert:?} after {after:?} (virtual time)");

    // Death watch: the pager sees the thermostat stop.
    pager.watch(&thermostat).await;
    thermostat.stop();
    let reason = pager.expect_terminated(thermostat.pid()).await;
    println!("thermostat stopped: {reason:?}");
    system.shutdown().await;
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    check().await;
    println!("all checks passed");
}

#[cfg(test)]
mod tests {
    #[tokio::test(start_paused = true)]
    async fn thermostat() {
        super::check().await;
    }
}
