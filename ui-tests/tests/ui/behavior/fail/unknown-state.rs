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
    #[handler(when = Upp(..))]
    fn send(&self) {}
}

fn main() {}
