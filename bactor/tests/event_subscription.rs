//! Actors subscribed to the event stream: events arrive as ordinary messages, filtered
//! with types (a supervisor event names the failed actor's type), once per actor, until
//! it stops, none lost to a full mailbox.

use std::time::Duration;

use bactor::prelude::*;

mod common;
use common::no_hang;

#[actor(mailbox = 2)]
#[derive(Default)]
struct Monitor {
    seen: Vec<String>,
}

#[actor]
impl Monitor {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.subscribe_events(|e, me| match e {
            SystemEvent::Supervisor(s) if s.child_type.ends_with("::Worker") => {
                Some(me.failed(s.reason.to_string()).into_message())
            }
            _ => None,
        });
        Ok(())
    }

    #[handler]
    async fn failed(&mut self, why: String) {
        // Slow: the bounded mailbox (2) fills up.
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.seen.push(why);
    }

    #[handler]
    fn seen(&self) -> Vec<String> {
        self.seen.clone()
    }

    #[handler(fail_on_error)]
    fn crash(&mut self) -> Result<(), ActorError> {
        Err(ActorError::msg("monitor crashed"))
    }
}

#[actor]
#[derive(Default)]
struct Worker;

#[actor]
impl Worker {
    #[handler(fail_on_error)]
    fn fail(&mut self, why: String) -> Result<(), ActorError> {
        Err(ActorError::msg(why))
    }
}

#[actor]
#[derive(Default)]
struct Other;

#[actor]
impl Other {
    #[handler(fail_on_error)]
    fn fail(&mut self) -> Result<(), ActorError> {
        Err(ActorError::msg("other"))
    }
}

async fn seen_at_least(monitor: &MonitorRef, n: usize) -> Vec<String> {
    no_hang(async {
        loop {
            let seen = monitor.seen().await.unwrap();
            if seen.len() >= n {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_as_messages_filtered_by_type_none_lost_to_a_full_mailbox() {
    let system = ActorSystem::new();
    let monitor = system.spawn_started(Monitor::default).await.unwrap();
    // 50 workers and 50 others fail at once: far more events than the monitor's
    // mailbox (2) holds.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let worker = system.spawn(Worker::default).await.unwrap();
        let other = system.spawn(Other::default).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let _ = other.fail().await;
            let _ = worker.fail(format!("w{i}")).await;
        }));
    }
    for t in tasks {
        no_hang(t).await.unwrap();
    }
    seen_at_least(&monitor, 50).await;
    // Nothing more comes (no Other failure, no duplicate).
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut seen = no_hang(monitor.seen()).await.unwrap();
    seen.sort_by_key(|s| s[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
    assert_eq!(seen, expected, "every Worker failure once, no Other");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_does_not_subscribe_twice_and_a_stop_ends_the_subscription() {
    let system = ActorSystem::new();
    let monitor = system.spawn_started(Monitor::default).await.unwrap();
    let worker = system.spawn(Worker::default).await.unwrap();
    let mut events = system.events().subscribe();
    // The monitor restarts: its pre_start subscribes again.
    let _ = no_hang(monitor.crash()).await;
    common::restarted(&mut events, monitor.pid()).await;
    let _ = no_hang(worker.fail("once".into())).await;
    assert_eq!(seen_at_least(&monitor, 1).await, ["once"]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        no_hang(monitor.seen()).await.unwrap(),
        ["once"],
        "delivered once"
    );
    drop(events);
    monitor.stop();
    no_hang(monitor.stopped()).await;
    // The next event finds the monitor gone and drops its subscription.
    let _ = no_hang(worker.fail("after".into())).await;
    assert!(!system.events().has_subscribers());
    system.shutdown().await;
}
