use bactor::prelude::*;

#[actor]
#[supervise(backoff = exponential(min = "10ms", max = "1s", jitter = 1))]
struct Parent;

#[actor]
impl Parent {}

fn main() {}
