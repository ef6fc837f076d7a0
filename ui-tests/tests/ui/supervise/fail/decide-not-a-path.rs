use bactor::prelude::*;

#[actor]
#[supervise(decide = 5)]
struct Parent;

#[actor]
impl Parent {}

fn main() {}
