//! What `#[actor]` generates for the quickstart's `Counter`, written by hand, with why each
//! piece exists. Behaves exactly like the macro version.
//!
//! Run with `cargo run --example counter_expanded`; compare with `quickstart.rs`, or see
//! the exact expansion in `bactor-macros/src/actor/snapshots/`.

use bactor::prelude::*;
use bactor::{Plain, Request};

/// The state: a plain struct. `#[actor]` leaves it untouched.
#[derive(Default)]
struct Counter {
    count: u64,
}

impl Counter {
    /// The handler, as the user wrote it: an ordinary method.
    fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }
}

/// One variant per handler, holding its arguments and a reply slot. The mailbox carries
/// this enum by value: no per-message `Box`, and dispatch is one `match`. A `tell` leaves
/// the slot empty; an ask fills it.
enum CounterMsg {
    Add {
        by: u64,
        reply: Option<ReplyTo<u64>>,
    },
}

/// The typed ref: a newtype, so it can have one method per handler (`ActorRef` lives in
/// another crate and cannot get inherent methods here). Cloning it is one reference count.
#[derive(Clone)]
struct CounterRef(ActorRef<Counter>);

/// `spawn` builds the typed ref from the untyped one.
impl From<ActorRef<Counter>> for CounterRef {
    fn from(r: ActorRef<Counter>) -> Self {
        CounterRef(r)
    }
}

/// `pid()`, `stop()`, `is_alive()` and the untyped sends come from `ActorRef`.
impl std::ops::Deref for CounterRef {
    type Target = ActorRef<Counter>;
    fn deref(&self) -> &ActorRef<Counter> {
        &self.0
    }
}

impl CounterRef {
    /// A request: nothing is sent until it is awaited (ask), `.tell()`-ed or
    /// `.try_tell()`-ed. The function pointer puts the reply slot into the message when the
    /// request becomes an ask, so a tell carries none.
    fn add(&self, by: u64) -> Request<'_, Counter, u64, Plain> {
        Request::new(
            &self.0,
            CounterMsg::Add { by, reply: None },
            |msg, reply| {
                let CounterMsg::Add { reply: slot, .. } = msg;
                *slot = Some(reply);
            },
        )
    }
}

/// The runtime's view: the message type, the ref type, and one `match` to dispatch. The
/// handler's return value is the reply; a dropped ask (timeout) just finds nobody waiting.
impl Actor for Counter {
    type Msg = CounterMsg;
    type Ref = CounterRef;

    async fn handle(
        &mut self,
        msg: CounterMsg,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        match msg {
            CounterMsg::Add { by, reply } => {
                let out = self.add(by);
                if let Some(reply) = reply {
                    let _ = reply.send(out);
                }
            }
        }
        Ok(())
    }

    /// Used in dead letters and supervision events.
    fn message_name(msg: &CounterMsg) -> &'static str {
        match msg {
            CounterMsg::Add { .. } => "Counter::add",
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let counter: CounterRef = system.spawn(Counter::default).await?;
    println!("add(5) -> {}", counter.add(5).await?);
    counter.add(2).tell().await?;
    println!("add(0) -> {}", counter.add(0).await?);
    system.shutdown().await;
    Ok(())
}
