// All independent mistakes of one impl block are reported together.
use bactor::prelude::*;

#[actor]
struct Counter;

#[actor(nope)]
impl Counter {
    #[handler]
    fn a(self) {}

    #[handler]
    fn b<T>(&self, _t: T) {}

    #[handler]
    fn c(&self, _s: &str) {}

    fn pre_start(&self) {}
}

fn main() {}
