//! Middleware: receive layers around handlers and send layers around sends, on `Props`
//! and system-wide: order, refusals, outcomes, typed access to the message.

mod common;

use std::sync::{Arc, Mutex};

use bactor::middleware::{Flow, Handled, Incoming, Outgoing, ReceiveMiddleware, SendMiddleware};
use bactor::prelude::*;
use bactor::{Rejection, TellError};
use common::{dead_letter, no_hang, quiet_panics};

type Log = Arc<Mutex<Vec<String>>>;

/// Records `before` and `after` under its name, and refuses messages named `refuse`.
struct Recorder {
    name: &'static str,
    log: Log,
}

impl ReceiveMiddleware for Recorder {
    fn before(&self, msg: &Incoming<'_>) -> Flow {
        self.log
            .lock()
            .unwrap()
            .push(format!("{} before {}", self.name, msg.name()));
        if msg.name() == "Counter::refuse" {
            return Flow::Refuse(format!("{} says no", self.name));
        }
        Flow::Continue
    }

    fn after(&self, handled: &Handled<'_>) {
        let outcome = match handled.outcome {
            Ok(()) => "ok".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        self.log
            .lock()
            .unwrap()
            .push(format!("{} after {} {outcome}", self.name, handled.name));
    }
}

#[actor]
#[derive(Default)]
struct Counter {
    count: u64,
}

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, n: u64) -> u64 {
        self.count += n;
        self.count
    }

    #[handler]
    fn refuse(&mut self) {
        self.count += 1000;
    }

    #[handler]
    fn crash(&self) {
        panic!("middleware-test crash");
    }

    #[handler]
    fn count(&self) -> u64 {
        self.count
    }
}

fn recorder(name: &'static str, log: &Log) -> Recorder {
    Recorder {
        name,
        log: Arc::clone(log),
    }
}

fn taken(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// The log of the messages handled so far. A reply can reach its asker before the
/// layers' `after` ran, but the actor takes its next message only after them: a `count`
/// ask is the barrier, and its own entries are left out.
async fn settled(c: &CounterRef, log: &Log) -> Vec<String> {
    no_hang(c.count()).await.unwrap();
    taken(log)
        .into_iter()
        .filter(|l| !l.contains("Counter::count"))
        .collect()
}

#[tokio::test]
async fn system_layers_wrap_the_actors_own_in_order() {
    let log = Log::default();
    let system = ActorSystem::builder()
        .receive_middleware(recorder("sys1", &log))
        .receive_middleware(recorder("sys2", &log))
        .build();
    let c = system
        .spawn_props(
            Props::from_producer(Counter::default)
                .receive_middleware(recorder("own1", &log))
                .receive_middleware(recorder("own2", &log)),
        )
        .await
        .unwrap();
    assert_eq!(no_hang(c.add(2)).await.unwrap(), 2);
    assert_eq!(
        settled(&c, &log).await,
        [
            "sys1 before Counter::add",
            "sys2 before Counter::add",
            "own1 before Counter::add",
            "own2 before Counter::add",
            "own2 after Counter::add ok",
            "own1 after Counter::add ok",
            "sys2 after Counter::add ok",
            "sys1 after Counter::add ok",
        ]
    );
    // Another actor of the system gets the system's layers only.
    let other = system.spawn(Counter::default).await.unwrap();
    no_hang(other.add(1)).await.unwrap();
    assert_eq!(
        settled(&other, &log).await,
        [
            "sys1 before Counter::add",
            "sys2 before Counter::add",
            "sys2 after Counter::add ok",
            "sys1 after Counter::add ok",
        ]
    );
    system.shutdown().await;
}

#[tokio::test]
async fn a_refusal_stops_the_message_before_the_handler() {
    let log = Log::default();
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let c = system
        .spawn_props(
            Props::from_producer(Counter::default)
                .receive_middleware(recorder("outer", &log))
                .receive_middleware(recorder("inner", &log)),
        )
        .await
        .unwrap();
    assert_eq!(
        no_hang(c.refuse()).await,
        Err(AskError::Rejected(Rejection::Refused {
            message: "Counter::refuse",
            reason: "outer says no".into(),
        }))
    );
    // Refused by the outer layer: the inner one never saw it, no `after` ran, and the
    // handler did not run.
    assert_eq!(taken(&log), ["outer before Counter::refuse"]);
    let d = dead_letter(&mut events).await;
    assert_eq!((d.recipient, d.message), (c.pid(), "Counter::refuse"));
    c.refuse().tell().await.unwrap();
    assert_eq!(dead_letter(&mut events).await.message, "Counter::refuse");
    assert_eq!(no_hang(c.count()).await.unwrap(), 0);
    system.shutdown().await;
}

#[tokio::test]
async fn after_sees_failures() {
    let _quiet = quiet_panics("middleware-test crash");
    let log = Log::default();
    let system = ActorSystem::new();
    let c = system
        .spawn_props(Props::from_producer(Counter::default).receive_middleware(recorder("m", &log)))
        .await
        .unwrap();
    assert_eq!(no_hang(c.crash()).await, Err(AskError::Failed));
    let seen = settled(&c, &log).await;
    assert_eq!(seen[0], "m before Counter::crash");
    assert!(
        seen[1].starts_with("m after Counter::crash failed:")
            && seen[1].contains("middleware-test crash"),
        "{seen:?}"
    );
    system.shutdown().await;
}

/// Refuses `add` of more than 100 (a typed look at the message), counts every send.
#[derive(Default)]
struct Limit {
    sends: Mutex<u32>,
}

impl SendMiddleware for Limit {
    fn before_send(&self, msg: &Outgoing<'_>) -> Flow {
        *self.sends.lock().unwrap() += 1;
        match msg.message::<CounterMsg>() {
            Some(CounterMsg::Add { n, .. }) if *n > 100 => {
                Flow::Refuse(format!("{n} is over the limit"))
            }
            _ => Flow::Continue,
        }
    }
}

#[tokio::test]
async fn send_layers_see_every_send_and_may_refuse() {
    let limit = Arc::new(Limit::default());
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let c = system
        .spawn_props(Props::from_producer(Counter::default).send_middleware(Arc::clone(&limit)))
        .await
        .unwrap();
    assert_eq!(no_hang(c.add(5)).await.unwrap(), 5);
    // An ask refused before it is queued: the asker learns why.
    assert_eq!(
        no_hang(c.add(500)).await,
        Err(AskError::Rejected(Rejection::Refused {
            message: "Counter::add",
            reason: "500 is over the limit".into(),
        }))
    );
    assert_eq!(dead_letter(&mut events).await.message, "Counter::add");
    // A tell refused: the message comes back, nothing is lost.
    match c.add(200).try_tell() {
        Err(TellError::Refused(
            CounterMsg::Add { n: 200, .. },
            Rejection::Refused { reason, .. },
        )) => {
            assert_eq!(reason, "200 is over the limit");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let refused = c.add(300).tell().await.unwrap_err();
    assert!(matches!(refused, TellError::Refused(..)), "{refused:?}");
    assert_eq!(no_hang(c.count()).await.unwrap(), 5);
    // Every send went through the layer: 5 adds and the count.
    assert_eq!(*limit.sends.lock().unwrap(), 5);
    system.shutdown().await;
}

#[tokio::test]
async fn system_send_layers_apply_to_every_actor() {
    let limit = Arc::new(Limit::default());
    let system = ActorSystem::builder()
        .send_middleware(Arc::clone(&limit))
        .build();
    let a = system.spawn(Counter::default).await.unwrap();
    let b = system.spawn(Counter::default).await.unwrap();
    assert!(no_hang(a.add(101)).await.is_err());
    assert!(no_hang(b.add(101)).await.is_err());
    assert_eq!(no_hang(b.add(1)).await.unwrap(), 1);
    assert_eq!(*limit.sends.lock().unwrap(), 3);
    system.shutdown().await;
}
