use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn consume(self) {}

    #[handler]
    fn boxed(self: Box<Self>) {}
}

fn main() {}
