use bactor::prelude::*;

#[actor]
struct Session;

#[actor]
impl Session {
    fn on_receive_timeout(&mut self) -> bool {
        true
    }
}

fn main() {}
