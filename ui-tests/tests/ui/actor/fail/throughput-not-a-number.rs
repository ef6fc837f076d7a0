use bactor::prelude::*;

#[actor(throughput = "fast")]
struct Counter;

#[actor]
impl Counter {}

fn main() {}
