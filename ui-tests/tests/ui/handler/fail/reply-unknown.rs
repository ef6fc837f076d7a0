use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler(reply = maybe)]
    fn get(&self) -> u32 {
        1
    }
}

fn main() {}
