use bactor::prelude::*;

#[actor]
pub fn not_an_actor() {}

fn main() {}
