use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    unsafe fn risky(&self) {}

    #[handler]
    const fn fixed(&self) {}

    #[handler]
    extern "C" fn foreign(&self) {}
}

fn main() {}
