use bactor::prelude::*;

fn decide(_error: &str) -> bool {
    true
}

#[actor]
#[supervise(decide = decide)]
struct Boss;

#[actor]
impl Boss {}

fn main() {}
