use bactor::prelude::*;

#[actor]
#[supervise(max_restarts = 3, within = 10)]
struct Parent;

#[actor]
impl Parent {}

fn main() {}
