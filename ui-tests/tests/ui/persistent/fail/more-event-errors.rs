use bactor::prelude::*;

#[actor]
#[persistent = "yes"]
struct NameValue;

#[actor]
impl NameValue {
    #[event]
    fn happened(&mut self) {}
}

#[actor]
#[persistent(snapshot_every = 5, keep_snapshots = 0)]
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[event]
    fn pre_start(&mut self) {}

    #[event]
    fn added(&mut self, _by: u64) {}

    #[event]
    fn added_(&mut self, _by: u64) {}

    #[event]
    fn each(&mut self, _f: impl Fn()) {}

    #[event]
    fn generic<T>(&mut self, _t: T) {}
}

fn main() {}
