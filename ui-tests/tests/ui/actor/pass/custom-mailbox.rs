//! Every form of `#[actor(mailbox = ..)]` and every priority level.

use std::collections::VecDeque;
use std::sync::Mutex;

use bactor::mailbox::{Envelope, Mailbox, PriorityMailbox, Push};
use bactor::prelude::*;

struct Fifo<M>(Mutex<VecDeque<Envelope<M>>>);

impl<M> Default for Fifo<M> {
    fn default() -> Self {
        Fifo(Mutex::new(VecDeque::new()))
    }
}

impl<M: Send + 'static> Mailbox<M> for Fifo<M> {
    fn push(&self, envelope: Envelope<M>) -> Push<M> {
        self.0.lock().unwrap().push_back(envelope);
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<M>> {
        self.0.lock().unwrap().pop_front()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A generic type, made with `Default`.
#[actor(mailbox = Fifo<ByTypeMsg>, throughput = 10)]
struct ByType;

#[actor]
impl ByType {
    #[handler]
    fn one(&mut self) {}
}

/// An expression, evaluated at each spawn.
#[actor(mailbox = PriorityMailbox::new(MailboxConfig::Bounded(4)))]
struct ByExpr;

#[actor]
impl ByExpr {
    #[handler(priority = low)]
    fn later(&mut self) {}

    #[handler(priority = normal)]
    fn now(&mut self) {}

    #[handler(priority = high)]
    fn first(&mut self) {}
}

/// The bounded and unbounded forms still work beside the custom ones.
#[actor(mailbox = bounded(8))]
struct Sized8;

#[actor]
impl Sized8 {
    #[handler(priority = high)]
    fn first(&mut self) {}
}

#[actor(mailbox = unbounded)]
struct Endless;

#[actor]
impl Endless {
    #[handler]
    fn one(&mut self) {}
}

fn main() {
    let _ = <ByType as Actor>::custom_mailbox().map(|m| m.len());
    let _ = <ByExpr as Actor>::custom_mailbox().map(|m| m.len());
    assert!(<Sized8 as Actor>::has_priorities());
    assert!(!<Endless as Actor>::has_priorities());
}
