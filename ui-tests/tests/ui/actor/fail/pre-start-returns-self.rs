use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    fn pre_start(&mut self) -> Result<Self, ActorError> {
        Ok(Counter)
    }
}

fn main() {}
