use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn stop(&mut self) {}

    #[handler]
    fn pid(&self) -> u32 {
        0
    }
}

fn main() {}
