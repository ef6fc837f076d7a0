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
    #[event(name = 5)]
    fn numbered(&mut self, n: u64) {
        self.total += n;
    }

    #[event(nme = "ledger.added")]
    fn misspelled(&mut self, n: u64) {
        self.total += n;
    }

    #[event(name = "")]
    fn nameless(&mut self, n: u64) {
        self.total += n;
    }

    #[event(name = "a", name = "b")]
    fn twice(&mut self, n: u64) {
        self.total += n;
    }

    #[event = "ledger.added"]
    fn assigned(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {}
