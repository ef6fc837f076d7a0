//! Message headers: sent through `with_headers`, read by handlers and middleware, carried
//! on with `Context::propagate` (also through a router), kept by the stash and by
//! `pipe_to_self`; messages without headers see none.

mod common;

use std::sync::{Arc, Mutex};

use bactor::middleware::{Flow, Handled, Incoming, Outgoing, ReceiveMiddleware, SendMiddleware};
use bactor::prelude::*;
use bactor::router::Routing;
use std::future::IntoFuture;

use common::{no_hang, poll_once};

fn trace(id: &str) -> Headers {
    Headers::new().with("trace-id", id)
}

/// Answers with the trace id it was asked with, and remembers every one it was told.
#[actor]
#[derive(Default)]
struct Backend {
    seen: Vec<Option<String>>,
}

#[actor]
impl Backend {
    #[handler]
    fn who(&self, ctx: &mut Context<Self>) -> Option<String> {
        ctx.headers().get("trace-id").map(str::to_owned)
    }

    #[handler]
    fn note(&mut self, ctx: &mut Context<Self>) {
        self.seen
            .push(ctx.headers().get("trace-id").map(str::to_owned));
    }

    #[handler]
    fn seen(&self) -> Vec<Option<String>> {
        self.seen.clone()
    }
}

/// Calls a backend, passing its own message's headers on (or not).
#[actor]
struct Front {
    backend: BackendRef,
}

#[actor]
impl Front {
    #[handler]
    async fn relay(&self, ctx: &mut Context<Self>) -> Result<Option<String>, AskError> {
        ctx.propagate(&self.backend).who().await
    }

    #[handler]
    async fn relay_plain(&self) -> Result<Option<String>, AskError> {
        self.backend.who().await
    }
}

#[tokio::test]
async fn a_handler_reads_the_headers_it_was_sent_with_and_plain_messages_carry_none() {
    no_hang(async {
        let system = ActorSystem::new();
        let b = system.spawn(Backend::default).await.unwrap();
        assert_eq!(b.who().await.unwrap(), None);
        let traced = b.with_headers(trace("t1"));
        assert_eq!(traced.who().await.unwrap().as_deref(), Some("t1"));
        assert_eq!(traced.headers().get("trace-id"), Some("t1"));
        // Tells too, and the headers of one message do not stay for the next.
        traced.note().tell().await.unwrap();
        b.note().tell().await.unwrap();
        traced.note().tell().await.unwrap();
        assert_eq!(
            b.seen().await.unwrap(),
            [Some("t1".to_owned()), None, Some("t1".to_owned())]
        );
        // The original ref is unchanged.
        assert!(b.headers().is_empty());
        system.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn propagate_carries_the_headers_to_the_next_actor_and_only_then() {
    no_hang(async {
        let system = ActorSystem::new();
        let backend = system.spawn(Backend::default).await.unwrap();
        let front = system
            .spawn(move || Front {
                backend: backend.clone(),
            })
            .await
            .unwrap();
        let traced = front.with_headers(trace("t2"));
        assert_eq!(traced.relay().await.unwrap().as_deref(), Some("t2"));
        // Sent through a plain ref from inside the handler: not carried on.
        assert_eq!(traced.relay_plain().await.unwrap(), None);
        // Propagating no headers sends none.
        assert_eq!(front.relay().await.unwrap(), None);
        system.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_router_passes_the_headers_on_to_its_routee() {
    no_hang(async {
        let system = ActorSystem::new();
        let backends = vec![
            system.spawn(Backend::default).await.unwrap(),
            system.spawn(Backend::default).await.unwrap(),
        ];
        let group = system
            .spawn_group(backends.clone(), Routing::RoundRobin)
            .await
            .unwrap();
        // A → router → B: the front propagates to the router, the router forwards.
        let router_ref: BackendRef = (*group).clone();
        let front = system
            .spawn(move || Front {
                backend: router_ref.clone(),
            })
            .await
            .unwrap();
        for id in ["a", "b", "c"] {
            let got = front.with_headers(trace(id)).relay().await.unwrap();
            assert_eq!(got.as_deref(), Some(id));
        }
        // Straight into the pool with headers, and without.
        let pool = system
            .spawn_pool(2, Backend::default, Routing::RoundRobin)
            .await
            .unwrap();
        assert_eq!(
            pool.with_headers(trace("p"))
                .who()
                .await
                .unwrap()
                .as_deref(),
            Some("p")
        );
        assert_eq!(pool.who().await.unwrap(), None);
        system.shutdown().await;
    })
    .await;
}

type Log = Arc<Mutex<Vec<String>>>;

/// Logs the trace id each layer sees, and refuses messages whose tenant is `blocked`.
struct Layer(Log);

impl ReceiveMiddleware for Layer {
    fn before(&self, msg: &Incoming<'_>) -> Flow {
        let id = msg.headers().get("trace-id").unwrap_or("-");
        self.0.lock().unwrap().push(format!("before {id}"));
        if msg.headers().get("tenant") == Some("blocked") {
            return Flow::Refuse("tenant blocked".into());
        }
        Flow::Continue
    }

    fn after(&self, handled: &Handled<'_>) {
        let id = handled.headers.get("trace-id").unwrap_or("-");
        self.0.lock().unwrap().push(format!("after {id}"));
    }
}

impl SendMiddleware for Layer {
    fn before_send(&self, msg: &Outgoing<'_>) -> Flow {
        let id = msg.headers().get("trace-id").unwrap_or("-");
        self.0.lock().unwrap().push(format!("send {id}"));
        Flow::Continue
    }
}

#[tokio::test]
async fn middleware_sees_the_headers_and_may_refuse_by_them() {
    no_hang(async {
        let system = ActorSystem::new();
        let log = Log::default();
        let b = system
            .spawn_props(
                Props::from_producer(Backend::default)
                    .receive_middleware(Layer(Arc::clone(&log)))
                    .send_middleware(Layer(Arc::clone(&log))),
            )
            .await
            .unwrap();
        b.with_headers(trace("m1")).who().await.unwrap();
        b.who().await.unwrap();
        let blocked = b.with_headers(trace("m2").with("tenant", "blocked"));
        assert!(matches!(
            blocked.who().await,
            Err(AskError::Rejected(bactor::Rejection::Refused { .. }))
        ));
        b.seen().await.unwrap(); // a barrier for the `after` of the messages before it
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log[..8],
            [
                "send m1",
                "before m1",
                "after m1",
                "send -",
                "before -",
                "after -",
                "send m2",
                "before m2",
            ]
        );
        system.shutdown().await;
    })
    .await;
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Closed,
    Open,
}

/// Stashes `who` until opened.
#[actor(state = phase, otherwise = stash)]
struct Gate {
    phase: Phase,
}

#[actor]
impl Gate {
    #[handler(when = Open)]
    fn who(&self, ctx: &mut Context<Self>) -> Option<String> {
        ctx.headers().get("trace-id").map(str::to_owned)
    }

    #[handler]
    fn open(&mut self) {
        self.phase = Phase::Open;
    }
}

#[tokio::test]
async fn a_stashed_message_keeps_its_headers_until_it_is_handled() {
    no_hang(async {
        let system = ActorSystem::new();
        let gate = system
            .spawn(|| Gate {
                phase: Phase::Closed,
            })
            .await
            .unwrap();
        let traced = gate.with_headers(trace("s1"));
        // Both are queued, then stashed, ahead of `open`, which replays them in order.
        let mut first = Box::pin(traced.who().into_future());
        let mut second = Box::pin(gate.who().into_future());
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        gate.open().await.unwrap();
        assert_eq!(first.await.unwrap().as_deref(), Some("s1"));
        assert_eq!(second.await.unwrap(), None);
        system.shutdown().await;
    })
    .await;
}

/// Pipes a result to itself; the piped message records the trace id it arrives with.
#[actor]
#[derive(Default)]
struct Piper {
    got: Option<Option<String>>,
}

#[actor]
impl Piper {
    #[handler]
    fn start(&self, ctx: &mut Context<Self>) {
        let me = ctx.myself().typed();
        ctx.pipe_to_self(async {}, move |()| me.done().into_message());
    }

    #[handler]
    fn done(&mut self, ctx: &mut Context<Self>) {
        self.got = Some(ctx.headers().get("trace-id").map(str::to_owned));
    }

    #[handler]
    fn got(&self) -> Option<Option<String>> {
        self.got.clone()
    }
}

#[tokio::test]
async fn a_piped_message_carries_the_headers_of_the_message_that_piped_it() {
    no_hang(async {
        let system = ActorSystem::new();
        let p = system.spawn(Piper::default).await.unwrap();
        p.with_headers(trace("p1")).start().await.unwrap();
        let got = loop {
            if let Some(got) = p.got().await.unwrap() {
                break got;
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(got.as_deref(), Some("p1"));
        system.shutdown().await;
    })
    .await;
}

/// Stamps a trace id on every message sent without one.
struct Stamp;

impl SendMiddleware for Stamp {
    fn before_send(&self, _: &Outgoing<'_>) -> Flow {
        Flow::Continue
    }

    fn add_headers(&self, _: &Outgoing<'_>, headers: &mut Headers) {
        if headers.get("trace-id").is_none() {
            headers.insert("trace-id", "stamped");
        }
    }
}

#[tokio::test]
async fn send_layers_add_headers_that_inner_layers_and_the_handler_see() {
    no_hang(async {
        let log = Log::default();
        let system = ActorSystem::builder().send_middleware(Stamp).build();
        let b = system
            .spawn_props(
                Props::from_producer(Backend::default).send_middleware(Layer(Arc::clone(&log))),
            )
            .await
            .unwrap();
        // Asks and tells without headers get the stamp; those with a trace id keep it.
        assert_eq!(b.who().await.unwrap().as_deref(), Some("stamped"));
        assert_eq!(
            b.with_headers(trace("mine"))
                .who()
                .await
                .unwrap()
                .as_deref(),
            Some("mine")
        );
        b.note().tell().await.unwrap();
        b.note().try_tell().unwrap();
        assert_eq!(
            b.seen().await.unwrap(),
            [Some("stamped".to_owned()), Some("stamped".to_owned())]
        );
        // The system's layer is outermost: the actor's own layer sees the stamp.
        assert_eq!(log.lock().unwrap()[..2], ["send stamped", "send mine"]);
        system.shutdown().await;
    })
    .await;
}

/// Handles `pass` once the valve is open, noting the trace id of each.
#[actor]
struct Valve {
    open: tokio::sync::watch::Receiver<bool>,
    seen: Vec<Option<String>>,
}

#[actor]
impl Valve {
    #[handler]
    async fn pass(&mut self, ctx: &mut Context<Self>) {
        let id = ctx.headers().get("trace-id").map(str::to_owned);
        let mut open = self.open.clone();
        let _ = open.wait_for(|o| *o).await;
        self.seen.push(id);
    }

    #[handler]
    fn seen(&self) -> Vec<Option<String>> {
        self.seen.clone()
    }
}

/// Counts the sends it sees.
struct Counting(Arc<std::sync::atomic::AtomicUsize>);

impl SendMiddleware for Counting {
    fn before_send(&self, _: &Outgoing<'_>) -> Flow {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Flow::Continue
    }
}

#[tokio::test]
async fn a_message_that_waits_for_room_keeps_the_headers_its_layers_added() {
    no_hang(async {
        let system = ActorSystem::new();
        let sends = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (opener, open) = tokio::sync::watch::channel(false);
        let v = system
            .spawn_props(
                Props::from_producer(move || Valve {
                    open: open.clone(),
                    seen: Vec::new(),
                })
                .mailbox(bactor::MailboxConfig::Bounded(1))
                .send_middleware(Counting(Arc::clone(&sends)))
                .send_middleware(Stamp),
            )
            .await
            .unwrap();
        v.pass().tell().await.unwrap(); // handled: waits for the valve
        v.pass().tell().await.unwrap(); // fills the mailbox
        let mut third = v.pass().tell().into_future();
        assert!(poll_once(&mut third).is_pending(), "the mailbox is full");
        opener.send(true).unwrap();
        third.await.unwrap();
        let stamped = Some("stamped".to_owned());
        assert_eq!(
            v.seen().await.unwrap(),
            [stamped.clone(), stamped.clone(), stamped]
        );
        // Each send went through the layers once, the one that waited for room too (and
        // the `seen` ask).
        assert_eq!(sends.load(std::sync::atomic::Ordering::Relaxed), 4);
        system.shutdown().await;
    })
    .await;
}
