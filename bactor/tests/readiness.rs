//! Waiting for an actor's start (`spawn_started`), its restart count and cause, and its
//! parent as a typed ref.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bactor::prelude::*;
use bactor::{LookupError, StartError};

mod common;
use common::{no_hang, restarted};

#[actor]
#[derive(Default)]
struct Service {
    started: Arc<AtomicBool>,
    fail_start: bool,
    panic_start: bool,
}

#[actor]
impl Service {
    async fn pre_start(&mut self) -> Result<(), ActorError> {
        if self.panic_start {
            panic!("pre_start blew up");
        }
        if self.fail_start {
            return Err(ActorError::msg("the database is unreachable"));
        }
        self.started.store(true, Ordering::SeqCst);
        Ok(())
    }

    #[handler]
    fn ping(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn spawn_started_returns_once_pre_start_has_run() {
    let system = ActorSystem::new();
    let started = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&started);
    let service = no_hang(system.spawn_started(move || Service {
        started: Arc::clone(&flag),
        ..Service::default()
    }))
    .await
    .unwrap();
    assert!(
        started.load(Ordering::SeqCst),
        "pre_start ran before the ref came back"
    );
    assert_eq!(no_hang(service.ping()).await, Ok(true));
    system.shutdown().await;
}

#[tokio::test]
async fn a_failed_start_is_returned_and_the_actor_stopped() {
    let system = ActorSystem::new();
    let outcome = no_hang(system.spawn_started(|| Service {
        fail_start: true,
        ..Service::default()
    }))
    .await;
    match outcome {
        Err(StartError::Failed(e)) => {
            assert!(e.to_string().contains("the database is unreachable"), "{e}");
            assert!(!e.is_panic());
        }
        other => panic!("expected the start error, got {other:?}"),
    }
    assert_eq!(system.actor_count(), 0, "not left restarting");
    system.shutdown().await;
}

#[tokio::test]
async fn a_panicking_start_is_returned_as_a_panic() {
    let system = ActorSystem::new();
    let _quiet = common::quiet_panics("pre_start blew up");
    match no_hang(system.spawn_started(|| Service {
        panic_start: true,
        ..Service::default()
    }))
    .await
    {
        Err(StartError::Failed(e)) => assert!(e.is_panic(), "{e}"),
        other => panic!("expected the panic, got {other:?}"),
    }
    system.shutdown().await;
}

#[actor]
#[derive(Default)]
struct Flaky;

#[actor]
impl Flaky {
    #[handler(fail_on_error)]
    fn fail(&mut self, why: String) -> Result<(), ActorError> {
        Err(ActorError::msg(why))
    }

    #[handler]
    fn restarts(&self, ctx: &mut Context<Self>) -> (u32, Option<String>) {
        (
            ctx.restarts(),
            ctx.last_restart_cause().map(|e| e.to_string()),
        )
    }
}

#[tokio::test]
async fn the_context_counts_restarts_and_keeps_the_last_cause() {
    let system = ActorSystem::new();
    let flaky = system.spawn(Flaky::default).await.unwrap();
    assert_eq!(no_hang(flaky.restarts()).await.unwrap(), (0, None));
    let mut events = system.events().subscribe();
    for why in ["first", "second"] {
        let _ = no_hang(flaky.fail(why.into())).await;
        restarted(&mut events, flaky.pid()).await;
    }
    let (n, cause) = no_hang(flaky.restarts()).await.unwrap();
    assert_eq!(n, 2);
    assert!(cause.unwrap().contains("second"));
    system.shutdown().await;
}

#[actor]
#[derive(Default)]
struct Boss {
    reports: Vec<String>,
}

#[actor]
impl Boss {
    #[handler]
    async fn hire(&mut self, ctx: &mut Context<Self>, name: String) -> Result<(), SpawnError> {
        ctx.spawn_child(move || Worker { name: name.clone() })
            .await?;
        Ok(())
    }

    #[handler]
    fn report(&mut self, from: String) {
        self.reports.push(from);
    }

    #[handler]
    fn reports(&self) -> Vec<String> {
        self.reports.clone()
    }
}

#[actor]
#[derive(Default)]
struct Worker {
    name: String,
}

#[actor]
impl Worker {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        // The parent, typed.
        let boss: BossRef = ctx.parent_ref::<Boss>()?;
        boss.report(self.name.clone()).tell().await?;
        // Not a `Flaky`: a typed error, not a wrong ref.
        assert!(matches!(
            ctx.parent_ref::<Flaky>(),
            Err(LookupError::WrongType { .. })
        ));
        Ok(())
    }
}

#[tokio::test]
async fn a_child_reaches_its_parent_as_a_typed_ref() {
    let system = ActorSystem::new();
    let boss = system.spawn(Boss::default).await.unwrap();
    no_hang(boss.hire("ada".into())).await.unwrap();
    let mut reports = Vec::new();
    for _ in 0..1000 {
        reports = no_hang(boss.reports()).await.unwrap();
        if !reports.is_empty() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(reports, ["ada"]);
    system.shutdown().await;
}

#[tokio::test]
async fn a_top_level_actor_has_no_parent_ref() {
    #[actor]
    #[derive(Default)]
    struct Alone;

    #[actor]
    impl Alone {
        #[handler]
        fn parent_is_missing(&self, ctx: &mut Context<Self>) -> bool {
            matches!(ctx.parent_ref::<Boss>(), Err(LookupError::NotFound(_)))
        }
    }

    let system = ActorSystem::new();
    let alone = system.spawn(Alone::default).await.unwrap();
    assert_eq!(no_hang(alone.parent_is_missing()).await, Ok(true));
    system.shutdown().await;
}
