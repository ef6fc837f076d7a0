use bactor::prelude::*;

#[actor]
#[persistent(on_conflict = retry)]
#[derive(Default)]
struct Stubborn {
    total: u64,
}

#[actor]
impl Stubborn {
    #[event]
    fn added(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {}
