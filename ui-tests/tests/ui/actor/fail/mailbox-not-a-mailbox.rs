use bactor::prelude::*;

#[derive(Default)]
struct Stack;

#[actor(mailbox = Stack)]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, n: u32) {
        let _ = n;
    }
}

fn main() {}
