use bactor::prelude::*;

#[actor]
impl [u8; 4] {}

fn main() {}
