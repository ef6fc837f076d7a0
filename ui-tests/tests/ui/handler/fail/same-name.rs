use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn get(&self) -> u32 {
        1
    }

    #[handler]
    fn get(&self) -> u32 {
        2
    }
}

fn main() {}
