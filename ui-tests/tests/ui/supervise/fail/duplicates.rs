use bactor::prelude::*;

#[actor]
#[supervise(within = "1s", within = "2s")]
#[supervise(max_restarts = 1)]
struct Boss;

#[actor]
impl Boss {}

fn main() {}
