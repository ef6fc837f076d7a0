use bactor::prelude::*;

#[actor]
#[persistent]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[handler]
    fn get(&self) -> u64 {
        self.n
    }
}

fn main() {}
