use bactor::prelude::*;

struct Counter;

#[actor]
impl Counter {}

fn main() {}
