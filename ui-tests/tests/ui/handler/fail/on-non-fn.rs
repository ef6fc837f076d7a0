use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    const LIMIT: u32 = 3;

    #[handler]
    #[handler]
    fn twice(&self) {}
}

fn main() {}
