use bactor::prelude::*;

#[actor]
struct Session;

#[actor]
impl Session {
    fn on_receive_timeout(&mut self, _idle: std::time::Duration) {}
}

fn main() {}
