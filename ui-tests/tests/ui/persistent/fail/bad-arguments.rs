use bactor::prelude::*;

#[actor]
#[persistent(keep_snapshots = 2)]
struct A;

#[actor]
impl A {
    #[event]
    fn happened(&mut self) {}
}

#[actor]
#[persistent(snapshot_every = 0, every = 3)]
struct B;

#[actor]
impl B {
    #[event]
    fn happened(&mut self) {}
}

#[actor]
#[persistent]
#[persistent]
struct C;

#[actor]
impl C {
    #[event]
    fn happened(&mut self) {}
}

#[actor]
#[persistent(tag_with = "tags")]
struct D;

#[actor]
impl D {
    #[event]
    fn happened(&mut self) {}
}

fn main() {}
