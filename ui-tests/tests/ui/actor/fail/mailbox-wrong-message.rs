use bactor::mailbox::{Envelope, Mailbox, Push};
use bactor::prelude::*;

/// A mailbox for plain numbers, not for `CounterMsg`.
struct Numbers;

impl Numbers {
    fn new() -> Self {
        Numbers
    }
}

impl Mailbox<u32> for Numbers {
    fn push(&self, envelope: Envelope<u32>) -> Push<u32> {
        Push::Full(envelope)
    }

    fn pop(&self) -> Option<Envelope<u32>> {
        None
    }

    fn len(&self) -> usize {
        0
    }
}

#[actor(mailbox = Numbers::new())]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, n: u32) {
        let _ = n;
    }
}

fn main() {}
