use bactor::prelude::*;

#[actor(mailbox = 0, throughput = 0)]
struct A;

#[actor]
impl A {}

#[actor(mailbox = bounded(0))]
struct B;

#[actor]
impl B {}

#[actor(mailbox = "big")]
struct C;

#[actor]
impl C {}

fn main() {}
