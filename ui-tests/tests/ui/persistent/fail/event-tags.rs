use bactor::prelude::*;
use serde::{Deserialize, Serialize};

#[actor]
#[persistent]
#[derive(Default, Serialize, Deserialize)]
struct Ledger {
    total: u64,
}

#[actor]
impl Ledger {
    #[event(tags = "ledger")]
    fn not_a_list(&mut self, n: u64) {
        self.total += n;
    }

    #[event(tags = ["ledger", 5])]
    fn not_a_string(&mut self, n: u64) {
        self.total += n;
    }

    #[event(tags = ["ledger", " "])]
    fn empty(&mut self, n: u64) {
        self.total += n;
    }

    #[event(tags = ["ledger", "ledger"])]
    fn repeated(&mut self, n: u64) {
        self.total += n;
    }

    #[event(tags = ["a"], tags = ["b"])]
    fn twice(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {}
