//! Lifecycle: hooks, children, names, timers and shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bactor::LookupError;
use bactor::prelude::*;

mod common;
use common::no_hang;

type Log = Arc<Mutex<Vec<String>>>;

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Logs every hook and message, and spawns `children` children of its own kind.
#[actor]
struct Node {
    name: String,
    children: u32,
    log: Log,
}

impl Node {
    fn note(&self, what: &str) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:{what}", self.name));
    }
}

#[actor]
impl Node {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        self.note("pre_start");
        for i in 0..self.children {
            let (name, log) = (format!("{}.{i}", self.name), self.log.clone());
            ctx.spawn_child(move || Node {
                name: name.clone(),
                children: 0,
                log: log.clone(),
            })
            .await?;
        }
        Ok(())
    }

    #[handler]
    fn ping(&mut self) -> usize {
        self.note("ping");
        0
    }

    #[handler]
    fn children(&self, ctx: &mut Context<Self>) -> Vec<Pid> {
        ctx.children()
    }

    fn post_stop(&mut self) {
        self.note("post_stop");
    }
}

fn node(name: &str, children: u32, log: &Log) -> impl Fn() -> Node + Send + Sync + 'static {
    let (name, log) = (name.to_owned(), log.clone());
    move || Node {
        name: name.clone(),
        children,
        log: log.clone(),
    }
}

#[tokio::test]
async fn hooks_run_in_order_and_post_stop_once() {
    let system = ActorSystem::new();
    let log = Log::default();
    let a = no_hang(system.spawn(node("a", 0, &log))).await.unwrap();
    no_hang(a.ping()).await.unwrap();
    a.stop();
    a.stop(); // a second stop changes nothing
    no_hang(a.stopped()).await;
    no_hang(system.shutdown()).await; // nor does shutdown afterwards
    assert_eq!(entries(&log), ["a:pre_start", "a:ping", "a:post_stop"]);
}

#[tokio::test]
async fn children_stop_before_their_parent() {
    let system = ActorSystem::new();
    let log = Log::default();
    let p = no_hang(system.spawn(node("p", 3, &log))).await.unwrap();
    let kids = no_hang(p.children()).await.unwrap();
    assert_eq!(kids.len(), 3);
    assert_eq!(system.actor_count(), 4);
    p.stop();
    no_hang(p.stopped()).await;
    let log = entries(&log);
    let parent_stop = log.iter().position(|e| e == "p:post_stop").unwrap();
    for i in 0..3 {
        let child_stop = log
            .iter()
            .position(|e| *e == format!("p.{i}:post_stop"))
            .unwrap();
        assert!(
            child_stop < parent_stop,
            "child {i} stopped after its parent: {log:?}"
        );
    }
    assert_eq!(system.actor_count(), 0);
}

#[tokio::test]
async fn a_child_that_stops_leaves_its_parent_running() {
    let system = ActorSystem::new();
    let log = Log::default();
    let p = no_hang(system.spawn(node("p", 2, &log))).await.unwrap();
    let kids = no_hang(p.children()).await.unwrap();
    let first: NodeRef = system.resolve::<Node>(kids[0]).unwrap();
    first.stop();
    no_hang(first.stopped()).await;
    // The parent learned about it (system lane) and still answers.
    let left = no_hang(p.children()).await.unwrap();
    assert_eq!(left, vec![kids[1]]);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn shutdown_stops_everything_and_refuses_new_actors() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut refs = Vec::new();
    for i in 0..5 {
        refs.push(
            no_hang(system.spawn(node(&format!("t{i}"), 2, &log)))
                .await
                .unwrap(),
        );
    }
    for r in &refs {
        no_hang(r.ping()).await.unwrap();
    }
    assert_eq!(system.actor_count(), 15);
    no_hang(system.shutdown()).await;
    assert_eq!(system.actor_count(), 0);
    assert!(refs.iter().all(|r| !r.is_alive()));
    let stops = entries(&log)
        .iter()
        .filter(|e| e.ends_with("post_stop"))
        .count();
    assert_eq!(stops, 15);
    assert_eq!(
        no_hang(system.spawn(node("late", 0, &log)))
            .await
            .unwrap_err(),
        SpawnError::ShuttingDown
    );
}

#[tokio::test]
async fn names_are_unique_among_live_actors() {
    let system = ActorSystem::new();
    let log = Log::default();
    let db = no_hang(system.spawn_named("db", node("db", 0, &log)))
        .await
        .unwrap();
    assert_eq!(
        no_hang(system.spawn_named("db", node("db2", 0, &log)))
            .await
            .unwrap_err(),
        SpawnError::NameTaken("db".into())
    );
    let found: NodeRef = system.lookup::<Node>("db").unwrap();
    assert_eq!(found, db);
    assert_eq!(system.whereis("db"), Some(db.pid()));
    assert!(matches!(
        system.lookup::<Node>("nope"),
        Err(LookupError::NotFound(n)) if n == "nope"
    ));
    // The right name with the wrong type is reported as such.
    let err = system.lookup::<bactor::FnActor<u32, fn(u32) -> std::future::Ready<()>>>("db");
    assert!(matches!(err, Err(LookupError::WrongType { .. })), "{err:?}");
    // Once the actor stops, its name is free again.
    db.stop();
    no_hang(db.stopped()).await;
    assert!(system.lookup::<Node>("db").is_err());
    let again = no_hang(system.spawn_named("db", node("db3", 0, &log)))
        .await
        .unwrap();
    assert_ne!(again.pid(), db.pid());
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_pre_start_that_always_fails_is_restarted_up_to_the_limit_then_stopped() {
    #[actor]
    struct Broken;

    #[actor]
    impl Broken {
        fn pre_start(&mut self) -> Result<(), std::io::Error> {
            Err(std::io::Error::other("no disk"))
        }

        #[handler]
        fn ping(&self) {}
    }

    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let b = no_hang(system.spawn(|| Broken)).await.unwrap();
    let res = no_hang(b.ping()).await;
    assert!(
        matches!(res, Err(AskError::NoReply | AskError::Dead)),
        "{res:?}"
    );
    let mut restarts = 0;
    loop {
        match no_hang(events.recv()).await {
            Some(SystemEvent::Supervisor(e)) if e.directive == Directive::Restart => restarts += 1,
            Some(SystemEvent::ActorStopped { pid, reason }) => {
                assert_eq!(pid, b.pid());
                assert_eq!(reason.to_string(), "failed: no disk");
                break;
            }
            Some(SystemEvent::ActorStarted { .. }) => {
                panic!("a failed pre_start must not count as started")
            }
            _ => {}
        }
    }
    // The default strategy: 10 restarts within 10 s, then stop.
    assert_eq!(restarts, 10);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_panicking_handler_fails_the_ask_and_the_actor_is_restarted() {
    #[actor]
    #[derive(Default)]
    struct Fragile {
        calls: u32,
    }

    #[actor]
    impl Fragile {
        #[handler]
        fn boom(&mut self) -> u32 {
            self.calls += 1;
            panic!("boom")
        }

        #[handler]
        fn calls(&self) -> u32 {
            self.calls
        }
    }

    let system = ActorSystem::new();
    let f = no_hang(system.spawn(Fragile::default)).await.unwrap();
    assert_eq!(no_hang(f.boom()).await, Err(AskError::Failed));
    // The guardian restarted it: same ref, fresh state.
    assert_eq!(no_hang(f.calls()).await, Ok(0));
    no_hang(system.shutdown()).await;
}

/// A timer actor: `send_after` and `send_interval`, both cancelled on stop.
#[actor]
struct Clock {
    ticks: Arc<Mutex<u32>>,
}

#[actor]
impl Clock {
    fn pre_start(&mut self, ctx: &mut Context<Self>) {
        let once = ctx.myself().typed().tick(100).into_message();
        ctx.send_after(Duration::from_millis(50), once);
        let me = ctx.myself().typed();
        ctx.send_interval(Duration::from_millis(10), move || me.tick(1).into_message());
    }

    #[handler]
    fn tick(&mut self, by: u32) {
        *self.ticks.lock().unwrap() += by;
    }
}

#[tokio::test(start_paused = true)]
async fn timers_fire_and_are_cancelled_on_stop() {
    let system = ActorSystem::new();
    let ticks = Arc::new(Mutex::new(0));
    let t = ticks.clone();
    let clock = no_hang(system.spawn(move || Clock { ticks: t.clone() }))
        .await
        .unwrap();
    // Paused clock: time advances only when everything waits on timers.
    tokio::time::sleep(Duration::from_millis(55)).await;
    let seen = *ticks.lock().unwrap();
    assert_eq!(seen, 100 + 5, "one send_after and five interval ticks");
    clock.stop();
    no_hang(clock.stopped()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(*ticks.lock().unwrap(), seen, "no tick after stop");
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn lifecycle_events_are_published() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let a = no_hang(system.spawn(node("a", 0, &log))).await.unwrap();
    a.stop();
    no_hang(a.stopped()).await;
    match no_hang(events.recv()).await {
        Some(SystemEvent::ActorStarted { pid, type_name }) => {
            assert_eq!(pid, a.pid());
            assert!(type_name.ends_with("Node"));
        }
        other => panic!("{other:?}"),
    }
    match no_hang(events.recv()).await {
        Some(SystemEvent::ActorStopped { pid, reason }) => {
            assert_eq!(pid, a.pid());
            assert!(reason.is_normal());
        }
        other => panic!("{other:?}"),
    }
    no_hang(system.shutdown()).await;
}
