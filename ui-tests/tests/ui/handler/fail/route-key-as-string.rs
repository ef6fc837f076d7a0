use bactor::prelude::*;

#[actor]
struct Shard;

#[actor]
impl Shard {
    #[handler(route_key = "user")]
    fn visit(&mut self, user: u64) -> u64 {
        user
    }
}

fn main() {}
