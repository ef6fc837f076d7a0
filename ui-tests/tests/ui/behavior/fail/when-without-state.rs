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

#[actor]
impl Conn {
    #[handler(when = Down)]
    fn send(&self) {}
}

fn main() {}
