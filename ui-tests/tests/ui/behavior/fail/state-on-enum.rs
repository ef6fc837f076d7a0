use bactor::prelude::*;

#[derive(Debug)]
enum Link {
    Down,
    Up(String),
    Busy { since: u64 },
}

#[actor(state = link)]
enum Conn {
    Down,
    Up,
}

#[actor]
impl Conn {}

fn main() {}
