use bactor::prelude::*;

struct Plain;

impl Plain {
    #[handler]
    fn get(&self) -> u32 {
        1
    }
}

fn main() {}
