use bactor::prelude::*;

#[actor]
#[supervise(max_restarts = 0, backoff = exponential(min = "1s", max = "2s"))]
struct Boss;

#[actor]
impl Boss {}

fn main() {}
