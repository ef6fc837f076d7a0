use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    async fn pre_strat(&mut self) {}
}

fn main() {}
