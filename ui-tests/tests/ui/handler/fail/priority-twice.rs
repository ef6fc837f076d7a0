use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler(priority = high, priority = normal)]
    fn get(&self) -> u32 {
        1
    }
}

fn main() {}
