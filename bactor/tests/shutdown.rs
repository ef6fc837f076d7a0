//! Shutdown: actors stop newest first (top-level and children), and a handler stuck in
//! an await does not block it past its timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bactor::prelude::*;

mod common;
use common::no_hang;

type Log = Arc<Mutex<Vec<String>>>;

#[actor]
struct Service {
    name: String,
    log: Log,
    children: Vec<String>,
}

#[actor]
impl Service {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        for child in self.children.clone() {
            let log = Arc::clone(&self.log);
            ctx.spawn_child(move || Service {
                name: child.clone(),
                log: Arc::clone(&log),
                children: Vec::new(),
            })
            .await?;
        }
        Ok(())
    }

    async fn post_stop(&mut self) {
        self.log.lock().unwrap().push(self.name.clone());
    }

    #[handler]
    async fn wait_forever(&mut self, started: tokio::sync::oneshot::Sender<()>) {
        let _ = started.send(());
        std::future::pending::<()>().await;
    }
}

fn service(
    name: &str,
    log: &Log,
    children: &[&str],
) -> impl Fn() -> Service + Send + Sync + 'static {
    let (name, log) = (name.to_owned(), Arc::clone(log));
    let children: Vec<String> = children.iter().map(|c| (*c).to_owned()).collect();
    move || Service {
        name: name.clone(),
        log: Arc::clone(&log),
        children: children.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actors_stop_newest_first_children_before_their_parent() {
    let log: Log = Arc::default();
    let system = ActorSystem::new();
    // A database, then a cache using it, then a supervisor of workers using both.
    system
        .spawn_started(service("db", &log, &[]))
        .await
        .unwrap();
    system
        .spawn_started(service("cache", &log, &[]))
        .await
        .unwrap();
    system
        .spawn_started(service(
            "supervisor",
            &log,
            &["worker-1", "worker-2", "worker-3"],
        ))
        .await
        .unwrap();
    no_hang(system.shutdown_within(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "worker-3",
            "worker-2",
            "worker-1",
            "supervisor",
            "cache",
            "db"
        ]
    );
    assert_eq!(system.actor_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_handler_does_not_block_shutdown_past_its_timeout() {
    let log: Log = Arc::default();
    let system = ActorSystem::new();
    system
        .spawn_started(service("db", &log, &[]))
        .await
        .unwrap();
    let stuck = system
        .spawn_started(service("stuck", &log, &[]))
        .await
        .unwrap();
    system
        .spawn_started(service("late", &log, &[]))
        .await
        .unwrap();
    let (started, running) = tokio::sync::oneshot::channel();
    stuck.wait_forever(started).tell().await.unwrap();
    no_hang(running).await.unwrap();
    let started = std::time::Instant::now();
    let err = no_hang(system.shutdown_within(Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    // The stuck actor is named; so may be the one spawned before it, told to stop only
    // when the timeout passed (and stopping just after).
    assert!(
        err.still_running.iter().any(|(pid, _)| *pid == stuck.pid()),
        "{err}"
    );
    assert!(err.to_string().contains("Service"), "{err}");
    // The one spawned after it was stopped first; the one before it, once told.
    no_hang(async {
        while log.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(*log.lock().unwrap(), ["late", "db"]);
    assert!(stuck.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_uses_the_systems_timeout() {
    let log: Log = Arc::default();
    let system = ActorSystem::builder()
        .shutdown_timeout(Duration::from_millis(100))
        .build();
    let stuck = system
        .spawn_started(service("stuck", &log, &[]))
        .await
        .unwrap();
    let (started, running) = tokio::sync::oneshot::channel();
    stuck.wait_forever(started).tell().await.unwrap();
    no_hang(running).await.unwrap();
    // Returns after the timeout instead of waiting for ever.
    no_hang(system.shutdown()).await;
    assert!(system.is_shutting_down());
}
