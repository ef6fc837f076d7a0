use bactor::prelude::*;

#[actor(mailbox = 8, supervisor = "x", crate = ::bactor)]
struct Counter;

#[actor(mailbx = 3)]
impl Counter {}

fn main() {}
