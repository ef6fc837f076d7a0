use bactor::prelude::*;

#[actor]
#[supervise(strategy = one_for_all)]
struct Boss;

#[actor]
impl Boss {}

fn main() {}
