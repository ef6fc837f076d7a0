use bactor::prelude::*;

struct Plain;

impl Plain {
    #[event]
    fn happened(&mut self) {}
}

#[persistent]
struct NotAnActor;

fn main() {}
