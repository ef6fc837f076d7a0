use bactor::prelude::*;

#[actor]
#[persistent(snapshot_every = "100")]
#[derive(Default, serde::Serialize, serde::Deserialize)]
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
