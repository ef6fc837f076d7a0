use bactor::prelude::*;

#[actor]
#[supervise(strategy = "all_for_one")]
struct Parent;

#[actor]
impl Parent {}

fn main() {}
