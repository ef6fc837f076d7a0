use bactor::prelude::*;

#[actor(mailbox = 8, throughput = 2, mailbox = unbounded)]
struct Counter;

#[actor]
impl Counter {}

fn main() {}
