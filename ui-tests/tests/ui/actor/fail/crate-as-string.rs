use bactor::prelude::*;

#[actor(crate = "bactor")]
struct Counter;

#[actor]
impl Counter {}

fn main() {}
