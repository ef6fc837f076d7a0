use bactor::prelude::*;

#[derive(Debug)]
enum Link {
    Down,
    Up(String),
    Busy { since: u64 },
}

#[actor(state = link)]
struct Conn {
    link: Link,
}

#[actor]
impl Conn {
    #[handler(when = Down, when = Up(..))]
    fn send(&self) {}
}

fn main() {}
