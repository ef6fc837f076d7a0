use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn name(&self, _s: &str, _t: &'static str, _v: &mut Vec<u8>) {}

    #[handler]
    fn each(&self, _f: impl Fn()) -> impl Sized {}
}

fn main() {}
