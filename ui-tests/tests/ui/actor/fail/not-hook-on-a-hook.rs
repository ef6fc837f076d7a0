use bactor::prelude::*;

#[actor]
struct Service;

#[actor]
impl Service {
    #[not_hook]
    async fn pre_start(&mut self) {}
}

fn main() {}
