use bactor::prelude::*;

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handler(route_key = usr)]
    fn lookup(&self, _user: String, _depth: u32) {}
}

fn main() {}
