use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn do_it(&mut self) {}

    #[handler]
    fn do_it_(&mut self) {}
}

fn main() {}
