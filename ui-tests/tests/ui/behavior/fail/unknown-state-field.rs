use bactor::prelude::*;

#[derive(Debug)]
enum Link {
    Down,
    Up(String),
    Busy { since: u64 },
}

#[actor(state = lnk)]
struct Conn {
    link: Link,
    sent: u64,
}

#[actor]
impl Conn {}

fn main() {}
