use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn add<T: Into<u64>>(&mut self, _by: T) {}

    #[handler]
    fn sub(&mut self, _by: u64)
    where
        u64: Copy,
    {
    }
}

fn main() {}
