use bactor::prelude::*;

#[actor]
struct Counter;

#[actor(mailbox = 8, throughput = 1)]
impl Counter {}

fn main() {}
