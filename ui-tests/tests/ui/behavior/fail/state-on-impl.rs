use bactor::prelude::*;

#[derive(Debug)]
enum Link {
    Down,
    Up(String),
    Busy { since: u64 },
}

#[actor]
struct Conn {
    link: Link,
}

#[actor(state = link)]
impl Conn {}

fn main() {}
