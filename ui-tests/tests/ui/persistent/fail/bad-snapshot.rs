use bactor::prelude::*;
use serde::{Deserialize, Serialize};

#[actor]
#[persistent(snapshot_every = 10, bad_snapshot = maybe)]
#[derive(Default, Serialize, Deserialize)]
struct Unsure {
    total: u64,
}

#[actor]
impl Unsure {
    #[event]
    fn added(&mut self, n: u64) {
        self.total += n;
    }
}

#[actor]
#[persistent(bad_snapshot = fail)]
#[derive(Default, Serialize, Deserialize)]
struct NoSnapshots {
    total: u64,
}

#[actor]
impl NoSnapshots {
    #[event]
    fn added(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {}
