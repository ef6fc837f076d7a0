use bactor::prelude::*;

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handler(route_key = id)]
    fn ping(&self) {}
}

fn main() {}
