use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler(priority = urgent)]
    fn now(&self) {}
}

fn main() {}
