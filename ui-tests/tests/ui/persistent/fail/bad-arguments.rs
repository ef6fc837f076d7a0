use bactor::prelude::*;

#[actor]
#[persistent(keep_snapshots = 2)]
struct A;

#[actor]
impl A {}

#[actor]
#[persistent(snapshot_every = 0, every = 3)]
struct B;

#[actor]
impl B {}

#[actor]
#[persistent]
#[persistent]
struct C;

#[actor]
impl C {}

#[actor]
#[persistent(tag_with = "tags")]
struct D;

#[actor]
impl D {}

fn main() {}
