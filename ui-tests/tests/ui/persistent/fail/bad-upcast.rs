use bactor::prelude::*;

/// Takes the wrong arguments for an upcaster.
fn upgrade(event: String) -> String {
    event
}

#[actor]
#[persistent(upcast = upgrade)]
#[derive(Default)]
struct Tally {
    total: u64,
}

#[actor]
impl Tally {
    #[event]
    fn added(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {}
