use bactor::prelude::*;

#[derive(Debug)]
enum Link {
    Down,
    Up(String),
    Busy { since: u64 },
}

#[actor(otherwise = stash)]
struct Conn {
    link: Link,
}

#[actor]
impl Conn {}

fn main() {}
