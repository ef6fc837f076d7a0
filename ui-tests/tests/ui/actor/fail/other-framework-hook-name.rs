use bactor::prelude::*;

#[actor]
struct Service;

#[actor]
impl Service {
    // kameo's name for what bactor calls `pre_start`.
    async fn on_start(&mut self) {}
}

fn main() {}
