use bactor::prelude::*;

#[actor(remote)]
struct Store;

#[actor]
impl Store {}

fn main() {}
