use std::rc::Rc;

use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, by: Rc<u64>) -> u64 {
        *by
    }
}

fn main() {}
