use bactor::prelude::*;

#[derive(Debug)]
enum Link {
    Down,
    Up(String),
    Busy { since: u64 },
}

#[actor(state = link, stash = 0)]
struct Conn {
    link: Link,
}

#[actor]
impl Conn {}

fn main() {}
