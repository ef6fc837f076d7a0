use bactor::prelude::*;

#[actor]
struct Counter;

impl Counter {
    fn get(&self) -> u32 {
        1
    }
}

fn main() {}
