use bactor::prelude::*;

#[actor]
struct Counter;

trait Greet {
    fn hi(&self);
}

#[actor]
impl Greet for Counter {
    fn hi(&self) {}
}

fn main() {}
