use bactor::prelude::*;

#[actor]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[event]
    fn added(&mut self, by: u64) {
        self.n += by;
    }
}

fn main() {}
