use bactor::prelude::*;

#[actor]
struct Hooks;

#[actor]
impl Hooks {
    #[handler]
    fn pre_start(&mut self) {}
}

fn main() {}
