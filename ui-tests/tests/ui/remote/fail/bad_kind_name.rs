use bactor::prelude::*;

#[actor]
struct Store;

#[actor(remote = "$store")]
impl Store {}

fn main() {}
