use bactor::prelude::*;

#[actor]
#[supervise(strategy = one_for_one, retries = 3)]
struct Boss;

#[actor]
impl Boss {}

fn main() {}
