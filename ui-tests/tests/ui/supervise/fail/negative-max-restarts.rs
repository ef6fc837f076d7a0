use bactor::prelude::*;

#[actor]
#[supervise(max_restarts = -1)]
struct Parent;

#[actor]
impl Parent {}

fn main() {}
