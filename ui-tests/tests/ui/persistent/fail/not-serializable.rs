use bactor::prelude::*;

#[actor]
#[persistent(snapshot_every = 10)]
#[derive(Default)]
struct Plain {
    n: u64,
}

#[actor]
impl Plain {
    #[event]
    fn added(&mut self, by: u64) {
        self.n += by;
    }
}

fn main() {}
