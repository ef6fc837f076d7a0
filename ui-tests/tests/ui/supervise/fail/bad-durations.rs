use bactor::prelude::*;

#[actor]
#[supervise(within = "10")]
struct A;

#[actor]
impl A {}

#[actor]
#[supervise(within = "10 parsecs")]
struct B;

#[actor]
impl B {}

#[actor]
#[supervise(within = "soon s")]
struct C;

#[actor]
impl C {}

fn main() {}
