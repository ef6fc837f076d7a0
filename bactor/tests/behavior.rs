//! Behaviours and the stash: `#[actor(state = ..)]` with `#[handler(when = ..)]`, the three
//! `otherwise` policies, the stash's order, bound and life across restarts and stops, the
//! direct stash, and the closure form (`Props::from_behavior`).

mod common;

use bactor::prelude::*;
use bactor::{Behavior, BehaviorActor, Next, Rejection};
use common::{dead_letter, decision, no_hang, poll_once, quiet_panics, restarted};

#[derive(Debug, Clone, PartialEq)]
enum Link {
    Disconnected,
    Connecting { attempt: u32 },
    Connected(String),
}

/// A connection: `send` waits (stashed) until connected; `status` is refused while
/// connecting; `ping` is dropped unless connected; `peer` is served only when connected
/// and refused otherwise (the actor's default).
#[actor(state = link, otherwise = reject, stash = 4)]
struct Connection {
    link: Link,
    sent: Vec<String>,
}

impl Connection {
    fn new() -> Self {
        Connection {
            link: Link::Disconnected,
            sent: Vec::new(),
        }
    }
}

#[actor]
impl Connection {
    #[handler]
    fn connect(&mut self) {
        self.link = Link::Connecting { attempt: 1 };
    }

    #[handler(when = Connecting { .. })]
    fn established(&mut self, peer: String) {
        self.link = Link::Connected(peer);
    }

    #[handler]
    fn disconnect(&mut self) {
        self.link = Link::Disconnected;
    }

    #[handler(when = Connected(..), otherwise = stash)]
    fn send(&mut self, text: String) -> usize {
        self.sent.push(text);
        self.sent.len()
    }

    #[handler(when = Disconnected | Connected(..))]
    fn status(&self) -> Link {
        self.link.clone()
    }

    #[handler(when = Connected(..), otherwise = drop)]
    fn ping(&self) {}

    #[handler(when = Connected(..))]
    fn peer(&self) -> String {
        match &self.link {
            Link::Connected(p) => p.clone(),
            _ => unreachable!("served only when connected"),
        }
    }

    #[handler]
    fn sent(&self) -> Vec<String> {
        self.sent.clone()
    }

    #[handler]
    fn dropped(&self, ctx: &mut Context<Self>) -> u64 {
        ctx.dropped()
    }

    #[handler]
    fn stashed(&self, ctx: &mut Context<Self>) -> usize {
        ctx.stashed()
    }

    #[handler]
    fn crash(&self) {
        panic!("behavior-test crash");
    }
}

type SendAsk<'a> = std::pin::Pin<Box<bactor::Ask<'a, Connection, usize, bactor::Plain>>>;

/// One `send` ask per text, each queued by its first poll, in order.
fn queued_sends<'a>(c: &'a ConnectionRef, texts: &[&str]) -> Vec<SendAsk<'a>> {
    texts
        .iter()
        .map(|t| {
            let mut ask = Box::pin(c.send(t.to_string()).into_future());
            assert!(poll_once(&mut ask).is_pending());
            ask
        })
        .collect()
}

/// Connects: `connect`, then `established`.
async fn connect(c: &ConnectionRef) {
    no_hang(c.connect()).await.unwrap();
    no_hang(c.established("p".into())).await.unwrap();
}

/// The answers of `asks`, in order.
async fn answers(asks: Vec<SendAsk<'_>>) -> Vec<usize> {
    let mut out = Vec::new();
    for ask in asks {
        out.push(no_hang(ask).await.unwrap());
    }
    out
}

/// Early messages wait in the stash and are handled in the order sent, before a message
/// that arrives after the change of state.
#[tokio::test]
async fn stashed_messages_are_served_in_order_before_newer_ones() {
    let system = ActorSystem::new();
    let c = system.spawn(Connection::new).await.unwrap();
    // Three asks queued while disconnected (each pushed by its first poll, in order).
    let early = queued_sends(&c, &["a", "b", "c"]);
    no_hang(c.connect()).await.unwrap();
    assert_eq!(no_hang(c.stashed()).await.unwrap(), 3);
    // The change of state and a newer send, queued back to back.
    let mut up = Box::pin(c.established("db:5432".into()).into_future());
    let mut late = Box::pin(c.send("d".into()).into_future());
    assert!(poll_once(&mut up).is_pending());
    assert!(poll_once(&mut late).is_pending());
    no_hang(up).await.unwrap();
    assert_eq!(answers(early).await, [1, 2, 3]);
    assert_eq!(no_hang(late).await.unwrap(), 4);
    assert_eq!(no_hang(c.sent()).await.unwrap(), ["a", "b", "c", "d"]);
    assert_eq!(no_hang(c.stashed()).await.unwrap(), 0);
    system.shutdown().await;
}

/// A stashed message whose handler the new state still does not serve is stashed again,
/// keeping its place.
#[tokio::test]
async fn a_change_to_another_unserved_state_keeps_the_stash_in_order() {
    let system = ActorSystem::new();
    let c = system.spawn(Connection::new).await.unwrap();
    c.send("x".into()).tell().await.unwrap();
    c.send("y".into()).tell().await.unwrap();
    no_hang(c.connect()).await.unwrap(); // Connecting: `send` still not served
    assert_eq!(no_hang(c.stashed()).await.unwrap(), 2);
    no_hang(c.established("p".into())).await.unwrap();
    assert_eq!(no_hang(c.sent()).await.unwrap(), ["x", "y"]);
    system.shutdown().await;
}

#[tokio::test]
async fn reject_answers_the_asker_with_the_state_and_publishes_a_dead_letter() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let c = system.spawn(Connection::new).await.unwrap();
    no_hang(c.connect()).await.unwrap();
    let err = no_hang(c.status()).await.unwrap_err();
    assert_eq!(
        err,
        AskError::Rejected(Rejection::NotServed {
            message: "Connection::status",
            state: "Connecting".into(),
        })
    );
    assert_eq!(
        err.to_string(),
        "`Connection::status` is not served in state `Connecting`"
    );
    let d = dead_letter(&mut events).await;
    assert_eq!((d.recipient, d.message), (c.pid(), "Connection::status"));
    // The actor's default (`otherwise = reject` on the struct) for `peer`; a tell is a
    // dead letter only.
    c.peer().tell().await.unwrap();
    let d = dead_letter(&mut events).await;
    assert_eq!(d.message, "Connection::peer");
    // Served again once the state allows it.
    no_hang(c.established("p".into())).await.unwrap();
    assert_eq!(
        no_hang(c.status()).await.unwrap(),
        Link::Connected("p".into())
    );
    assert_eq!(no_hang(c.peer()).await.unwrap(), "p");
    system.shutdown().await;
}

#[tokio::test]
async fn drop_counts_publishes_and_leaves_the_asker_without_reply() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let c = system.spawn(Connection::new).await.unwrap();
    assert_eq!(no_hang(c.ping()).await, Err(AskError::NoReply));
    c.ping().tell().await.unwrap();
    assert_eq!(no_hang(c.dropped()).await.unwrap(), 2);
    for _ in 0..2 {
        assert_eq!(dead_letter(&mut events).await.message, "Connection::ping");
    }
    // Nothing was stashed, and a dropped message stays dropped after the change.
    assert_eq!(no_hang(c.stashed()).await.unwrap(), 0);
    connect(&c).await;
    no_hang(c.ping()).await.unwrap();
    assert_eq!(no_hang(c.dropped()).await.unwrap(), 2);
    system.shutdown().await;
}

/// `stash = 4`: the fifth stashed message is refused with a dead letter and an error to
/// its asker; the four kept are served later.
#[tokio::test]
async fn a_full_stash_refuses_the_message_and_keeps_the_rest() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let c = system.spawn(Connection::new).await.unwrap();
    let kept = queued_sends(&c, &["m0", "m1", "m2", "m3"]);
    let err = no_hang(c.send("m4".into())).await.unwrap_err();
    assert_eq!(
        err,
        AskError::Rejected(Rejection::StashFull {
            message: "Connection::send",
            capacity: 4,
        })
    );
    let d = dead_letter(&mut events).await;
    assert_eq!((d.recipient, d.message), (c.pid(), "Connection::send"));
    connect(&c).await;
    assert_eq!(answers(kept).await, [1, 2, 3, 4]);
    assert_eq!(no_hang(c.sent()).await.unwrap(), ["m0", "m1", "m2", "m3"]);
    system.shutdown().await;
}

/// Stashed messages survive a restart (they go back in front of the mailbox) and are
/// handled by the new instance once its state serves them.
#[tokio::test]
async fn the_stash_survives_a_restart() {
    let _quiet = quiet_panics("behavior-test crash");
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let c = system.spawn(Connection::new).await.unwrap();
    let early = queued_sends(&c, &["a", "b"]);
    assert_eq!(no_hang(c.stashed()).await.unwrap(), 2);
    assert_eq!(no_hang(c.crash()).await, Err(AskError::Failed));
    let e = decision(&mut events, c.pid()).await;
    assert_eq!(e.directive, Directive::Restart);
    restarted(&mut events, c.pid()).await;
    // The new instance is disconnected: the two are stashed again, none lost.
    assert_eq!(no_hang(c.stashed()).await.unwrap(), 2);
    assert!(no_hang(c.sent()).await.unwrap().is_empty());
    connect(&c).await;
    assert_eq!(answers(early).await, [1, 2]);
    system.shutdown().await;
}

/// A stopped actor hands its stashed asks an error (never a hang) and publishes their dead
/// letters.
#[tokio::test]
async fn stopping_fails_stashed_asks() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let c = system.spawn(Connection::new).await.unwrap();
    let mut early = queued_sends(&c, &["lost"]);
    assert_eq!(no_hang(c.stashed()).await.unwrap(), 1);
    c.stop();
    no_hang(c.stopped()).await;
    assert_eq!(no_hang(early.remove(0)).await, Err(AskError::NoReply));
    let d = dead_letter(&mut events).await;
    assert_eq!((d.recipient, d.message), (c.pid(), "Connection::send"));
    system.shutdown().await;
}

/// A hand-written actor stashes whole messages itself and takes them out again.
struct Gate {
    open: bool,
    seen: Vec<u32>,
}

enum GateMsg {
    Item(u32),
    Open,
    Seen(ReplyTo<Vec<u32>>),
}

impl Actor for Gate {
    type Msg = GateMsg;
    type Ref = ActorRef<Self>;

    async fn handle(&mut self, msg: GateMsg, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        match msg {
            GateMsg::Item(n) if !self.open => {
                ctx.stash(GateMsg::Item(n)).expect("room in the stash");
            }
            GateMsg::Item(n) => self.seen.push(n),
            GateMsg::Open => {
                self.open = true;
                ctx.unstash_all();
            }
            GateMsg::Seen(reply) => {
                let _ = reply.send(self.seen.clone());
            }
        }
        Ok(())
    }

    fn stash_capacity() -> Option<usize> {
        Some(2)
    }
}

#[tokio::test]
async fn the_stash_used_directly_replays_before_the_mailbox() {
    let system = ActorSystem::new();
    let g = system
        .spawn(|| Gate {
            open: false,
            seen: Vec::new(),
        })
        .await
        .unwrap();
    for n in [1, 2] {
        g.tell(GateMsg::Item(n)).await.unwrap();
    }
    // Queued together: the unstashed items come before item 3.
    g.tell(GateMsg::Open).await.unwrap();
    g.tell(GateMsg::Item(3)).await.unwrap();
    assert_eq!(no_hang(g.ask(GateMsg::Seen)).await.unwrap(), [1, 2, 3]);
    system.shutdown().await;
}

#[tokio::test]
async fn a_full_direct_stash_refuses_with_an_error() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let g = system
        .spawn(|| Gate {
            open: false,
            seen: Vec::new(),
        })
        .await
        .unwrap();
    // Capacity 2; the third stash fails inside the handler (`expect`), which is a
    // failure of the actor: the supervisor restarts it and the two stashed survive.
    let _quiet = quiet_panics("room in the stash");
    for n in [1, 2, 3] {
        g.tell(GateMsg::Item(n)).await.unwrap();
    }
    let d = dead_letter(&mut events).await;
    assert_eq!(d.message, std::any::type_name::<GateMsg>());
    restarted(&mut events, g.pid()).await;
    g.tell(GateMsg::Open).await.unwrap();
    assert_eq!(no_hang(g.ask(GateMsg::Seen)).await.unwrap(), [1, 2]);
    system.shutdown().await;
}

/// The closure form: a behaviour stashes what it cannot handle yet and becomes another;
/// the stash is replayed into the new behaviour, in order.
#[derive(Debug)]
enum Job {
    Start,
    Work(u32, ReplyTo<u32>),
    Stop,
}

fn idle() -> Behavior<Job> {
    Behavior::new(|ctx: &mut Context<BehaviorActor<Job>>, msg| match msg {
        Job::Start => Next::Become(busy(0)),
        Job::Stop => Next::Stop,
        work => {
            ctx.stash(work).expect("room");
            Next::Same
        }
    })
}

fn busy(mut total: u32) -> Behavior<Job> {
    Behavior::new(move |_ctx, msg| match msg {
        Job::Work(n, reply) => {
            total += n;
            let _ = reply.send(total);
            Next::Same
        }
        Job::Start => Next::Same,
        Job::Stop => Next::Stop,
    })
}

#[tokio::test]
async fn closure_behaviours_stash_and_become() {
    let system = ActorSystem::new();
    let w = system
        .spawn_props(Props::from_behavior(idle))
        .await
        .unwrap();
    let mut early: Vec<_> = [1, 2, 3]
        .into_iter()
        .map(|n| Box::pin(w.ask(move |r| Job::Work(n, r))))
        .collect();
    for ask in &mut early {
        assert!(poll_once(ask).is_pending());
    }
    w.tell(Job::Start).await.unwrap();
    let mut totals = Vec::new();
    for ask in early {
        totals.push(no_hang(ask).await.unwrap());
    }
    assert_eq!(totals, [1, 3, 6]);
    assert_eq!(no_hang(w.ask(|r| Job::Work(4, r))).await.unwrap(), 10);
    w.tell(Job::Stop).await.unwrap();
    no_hang(w.stopped()).await;
    system.shutdown().await;
}
