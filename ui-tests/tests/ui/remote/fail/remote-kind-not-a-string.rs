use bactor::prelude::*;

#[actor]
struct Counter;

#[actor(remote = counter)]
impl Counter {
    #[handler]
    fn get(&self) -> u32 {
        1
    }
}

fn main() {}
