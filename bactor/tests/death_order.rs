//! A termination notice comes after every message the stopped actor sent the watcher
//! before it stopped (what Akka guarantees): for children and for watched actors.

use bactor::prelude::*;

mod common;
use common::no_hang;

const TRIALS: usize = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Note(Pid),
    Terminated(Pid),
}

#[actor]
#[derive(Default)]
struct Parent {
    log: Vec<Seen>,
}

#[actor]
impl Parent {
    /// Spawns `n` children; each tells this actor something and stops.
    #[handler]
    async fn spawn_children(
        &mut self,
        ctx: &mut Context<Self>,
        n: usize,
    ) -> Result<(), SpawnError> {
        for _ in 0..n {
            ctx.spawn_child(Child::default).await?;
        }
        Ok(())
    }

    #[handler]
    fn note(&mut self, from: Pid) {
        self.log.push(Seen::Note(from));
    }

    #[handler]
    fn log(&self) -> Vec<Seen> {
        self.log.clone()
    }

    /// Watches `target` (a sibling that will message this actor and stop).
    #[handler]
    fn watch_it(&mut self, ctx: &mut Context<Self>, target: WatchedRef) {
        ctx.watch(&target);
    }

    fn on_terminated(&mut self, _ctx: &mut Context<Self>, pid: Pid, _reason: &StopReason) {
        self.log.push(Seen::Terminated(pid));
    }
}

#[actor]
#[derive(Default)]
struct Child;

#[actor]
impl Child {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        let parent: ParentRef = ctx.parent_ref::<Parent>()?;
        parent.note(ctx.pid()).tell().await?;
        // (`ctx.stop()` takes effect after a handler; this is a hook.)
        ctx.myself().stop();
        Ok(())
    }
}

#[actor]
#[derive(Default)]
struct Watched;

#[actor]
impl Watched {
    #[handler]
    async fn say_and_stop(&mut self, ctx: &mut Context<Self>, to: ParentRef) {
        let _ = to.note(ctx.pid()).tell().await;
        ctx.stop();
    }
}

/// Every pid's note comes before its termination; returns how many pids were seen.
fn check(log: &[Seen]) -> usize {
    let mut noted = std::collections::HashSet::new();
    let mut terminated = 0;
    for seen in log {
        match seen {
            Seen::Note(p) => {
                noted.insert(*p);
            }
            Seen::Terminated(p) => {
                assert!(
                    noted.contains(p),
                    "{p} terminated before its message was handled"
                );
                terminated += 1;
            }
        }
    }
    terminated
}

async fn log_with(parent: &ParentRef, terminations: usize) -> Vec<Seen> {
    no_hang(async {
        loop {
            let log = parent.log().await.unwrap();
            let done = log
                .iter()
                .filter(|s| matches!(s, Seen::Terminated(_)))
                .count();
            if done >= terminations {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_messages_come_before_its_termination_notice() {
    let system = ActorSystem::new();
    let parent = system.spawn(Parent::default).await.unwrap();
    no_hang(parent.spawn_children(TRIALS)).await.unwrap();
    let log = log_with(&parent, TRIALS).await;
    assert_eq!(check(&log), TRIALS);
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_actors_messages_come_before_its_termination_notice() {
    let system = ActorSystem::new();
    let watcher = system.spawn(Parent::default).await.unwrap();
    for _ in 0..TRIALS / 4 {
        let w = system.spawn(Watched::default).await.unwrap();
        no_hang(watcher.watch_it(w.clone())).await.unwrap();
        no_hang(w.say_and_stop(watcher.clone()).tell())
            .await
            .unwrap();
    }
    let log = log_with(&watcher, TRIALS / 4).await;
    assert_eq!(check(&log), TRIALS / 4);
    system.shutdown().await;
}

/// Tells the probe its pid, then stops.
#[actor]
struct Reporter {
    probe: bactor::testkit::ProbeRef<Pid>,
}

#[actor]
impl Reporter {
    #[handler]
    async fn report_and_stop(&mut self, ctx: &mut Context<Self>) {
        let _ = self.probe.tell(ctx.pid()).await;
        ctx.stop();
    }
}

// The same guarantee seen from a test probe (the test kit's death watch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_hears_a_watched_actors_messages_before_its_death() {
    use bactor::testkit::TestProbe;

    let system = ActorSystem::new();
    let mut probe = TestProbe::<Pid>::new(&system).await;
    for _ in 0..TRIALS / 4 {
        let probe_ref = probe.actor_ref();
        let reporter = system
            .spawn(move || Reporter {
                probe: probe_ref.clone(),
            })
            .await
            .unwrap();
        probe.watch(&reporter).await;
        reporter.report_and_stop().tell().await.unwrap();
        probe.expect_msg_eq(reporter.pid()).await;
        assert!(probe.expect_terminated(reporter.pid()).await.is_normal());
    }
    system.shutdown().await;
}
