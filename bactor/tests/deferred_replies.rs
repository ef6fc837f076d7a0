//! Handlers that take their reply slot (`ReplyTo<T>`) and answer later: from a task, from
//! a later message, with the caller's typed result unchanged; a dropped slot is an error
//! for the caller, never a hang.

use std::collections::HashMap;
use std::future::IntoFuture;

use bactor::prelude::*;

mod common;
use common::{no_hang, poll_once};

#[derive(Debug, PartialEq, Eq)]
pub struct NotFound(String);

#[actor]
#[derive(Default)]
struct Registry {
    values: HashMap<String, u64>,
    /// Asks waiting for a key that is not there yet.
    waiting: HashMap<String, Vec<ReplyTo<u64>>>,
    dropped: u64,
}

#[actor]
impl Registry {
    /// Answered from a task, after the handler returned.
    #[handler]
    fn slow_double(&mut self, n: u64, reply: ReplyTo<u64>) {
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let _ = reply.send(n * 2);
        });
    }

    /// Answered at once if the key is there, else by the `set` that brings it.
    #[handler]
    fn wait_for(&mut self, key: String, reply: ReplyTo<u64>) {
        match self.values.get(&key) {
            Some(v) => {
                let _ = reply.send(*v);
            }
            None => self.waiting.entry(key).or_default().push(reply),
        }
    }

    #[handler]
    fn set(&mut self, key: String, value: u64) -> usize {
        self.values.insert(key.clone(), value);
        let waiting = self.waiting.remove(&key).unwrap_or_default();
        let n = waiting.len();
        for reply in waiting {
            let _ = reply.send(value);
        }
        n
    }

    /// A typed error through the slot.
    #[handler]
    fn lookup(&mut self, key: String, reply: ReplyTo<Result<u64, NotFound>>) {
        let found = self.values.get(&key).copied().ok_or(NotFound(key));
        let _ = reply.send(found);
    }

    /// Drops its slot without answering.
    #[handler]
    fn forget(&mut self, reply: ReplyTo<u64>) {
        self.dropped += 1;
        drop(reply);
    }

    /// What a tell's slot is: nobody waits. (`-> ()` is accepted with a slot.)
    #[allow(clippy::unused_unit)]
    #[handler]
    fn probe(&mut self, reply: ReplyTo<u64>) -> () {
        self.dropped += u64::from(reply.is_closed());
        let _ = reply.send(0);
    }

    #[handler]
    fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[tokio::test]
async fn a_slot_answered_from_a_task_gives_the_caller_its_typed_reply() {
    let system = ActorSystem::new();
    let r = system.spawn(Registry::default).await.unwrap();
    assert_eq!(no_hang(r.slow_double(21)).await.unwrap(), 42);
    system.shutdown().await;
}

#[tokio::test]
async fn slots_kept_by_the_actor_are_answered_by_a_later_message() {
    let system = ActorSystem::new();
    let r = system.spawn(Registry::default).await.unwrap();
    // Polled once each: both asks are queued, in this order, before the `set`.
    let mut first = Box::pin(r.wait_for("k".into()).into_future());
    let mut second = Box::pin(r.wait_for("k".into()).into_future());
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    let answered = no_hang(r.set("k".into(), 7)).await.unwrap();
    assert_eq!(answered, 2, "both were waiting");
    assert_eq!(no_hang(first).await.unwrap(), 7);
    assert_eq!(no_hang(second).await.unwrap(), 7);
    assert_eq!(no_hang(r.wait_for("k".into())).await.unwrap(), 7);
    system.shutdown().await;
}

#[tokio::test]
async fn an_error_sent_through_the_slot_is_the_callers_typed_error() {
    let system = ActorSystem::new();
    let r = system.spawn(Registry::default).await.unwrap();
    match no_hang(r.lookup("nope".into())).await {
        Err(AskError::Handler(NotFound(key))) => assert_eq!(key, "nope"),
        other => panic!("expected the handler's error, got {other:?}"),
    }
    no_hang(r.set("yes".into(), 3)).await.unwrap();
    assert_eq!(no_hang(r.lookup("yes".into())).await.unwrap(), 3);
    system.shutdown().await;
}

#[tokio::test]
async fn a_dropped_slot_is_an_error_for_the_caller_not_a_hang() {
    let system = ActorSystem::new();
    let r = system.spawn(Registry::default).await.unwrap();
    match no_hang(r.forget()).await {
        Err(AskError::NoReply) => {}
        other => panic!("expected NoReply, got {other:?}"),
    }
    // The actor carries on.
    assert_eq!(no_hang(r.dropped()).await.unwrap(), 1);
    system.shutdown().await;
}

#[tokio::test]
async fn a_told_handler_gets_a_slot_that_answers_nobody() {
    let system = ActorSystem::new();
    let r = system.spawn(Registry::default).await.unwrap();
    no_hang(r.probe().tell()).await.unwrap();
    assert_eq!(
        no_hang(r.dropped()).await.unwrap(),
        1,
        "its slot was closed"
    );
    system.shutdown().await;
}
