use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn make() -> u32 {
        1
    }
}

fn main() {}
