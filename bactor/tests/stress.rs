//! Survive being stressed (after Akka's SupervisorHierarchySpec): a tree of supervisors
//! under a storm of asks, some of which make workers panic. Every ask must be answered,
//! nothing may hang, and shutdown must leave no actor behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bactor::prelude::*;

mod common;
use common::{no_hang, quiet_panics};

#[actor]
#[derive(Default)]
struct Worker {
    handled: u64,
}

#[actor]
impl Worker {
    /// Fails when `roll` is a multiple of 10.
    #[handler]
    async fn work(&mut self, roll: u64) -> u64 {
        if roll.is_multiple_of(3) {
            tokio::task::yield_now().await;
        }
        assert!(!roll.is_multiple_of(10), "unlucky roll {roll}");
        self.handled += 1;
        self.handled
    }
}

#[actor]
struct Team {
    size: usize,
}

#[actor]
impl Team {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        for _ in 0..self.size {
            ctx.spawn_child(Worker::default).await?;
        }
        Ok(())
    }

    #[handler]
    fn members(&self, ctx: &mut Context<Self>) -> Vec<Pid> {
        ctx.children()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervision_tree_survives_a_storm_of_failures() {
    // Hundreds of expected panics: keep them out of the test output (until the end of
    // this test: the guard restores the previous hook).
    let _quiet = quiet_panics("unlucky roll");
    let system = ActorSystem::builder()
        .guardian_strategy(SupervisorStrategy::one_for_one().max_restarts(1_000))
        .build();
    let mut teams = Vec::new();
    for i in 0..4 {
        // Half the teams restart all members when one fails.
        let strategy = if i % 2 == 0 {
            SupervisorStrategy::all_for_one()
        } else {
            SupervisorStrategy::one_for_one()
        };
        let props = Props::from_producer(|| Team { size: 4 }).supervisor(
            strategy
                .max_restarts(1_000)
                .within(std::time::Duration::from_secs(60)),
        );
        teams.push(no_hang(system.spawn_props(props)).await.unwrap());
    }
    let mut workers: Vec<WorkerRef> = Vec::new();
    for t in &teams {
        for pid in no_hang(t.members()).await.unwrap() {
            workers.push(system.resolve::<Worker>(pid).unwrap());
        }
    }
    assert_eq!(workers.len(), 16);

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, w) in workers.iter().cloned().enumerate() {
        let (ok, failed) = (ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..200u64 {
                let roll = n * 7 + i as u64;
                match no_hang(w.work(roll)).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    // Its own failure, or a sibling's under all-for-one restarting it with
                    // this ask still queued... which is kept: only the failing message goes.
                    Err(AskError::Failed | AskError::NoReply) => {
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(other) => panic!("unexpected {other:?}"),
                };
            }
        }));
    }
    for t in tasks {
        no_hang(t).await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(ok + failed, 16 * 200, "every ask was answered");
    // Exactly the unlucky rolls failed: restarts lose no other message.
    let unlucky = (0..16u64)
        .flat_map(|i| (0..200u64).map(move |n| n * 7 + i))
        .filter(|r| r.is_multiple_of(10))
        .count() as u64;
    assert_eq!(failed, unlucky);
    // Every worker still answers after the storm.
    for w in &workers {
        assert!(no_hang(w.work(1)).await.is_ok());
    }
    no_hang(system.shutdown()).await;
    assert_eq!(system.actor_count(), 0);
}
