use std::collections::VecDeque;
use std::sync::Mutex;

use bactor::mailbox::{Envelope, Mailbox, Push};
use bactor::prelude::*;

struct Fifo<M>(Mutex<VecDeque<Envelope<M>>>, usize);

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

// A type needs `Default`; with arguments, write the expression instead.
#[actor(mailbox = Fifo<CounterMsg>)]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, n: u32) {
        let _ = n;
    }
}

fn main() {}
