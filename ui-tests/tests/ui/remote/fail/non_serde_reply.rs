use bactor::prelude::*;

struct Opaque(u8);

#[actor]
struct Store;

#[actor(remote)]
impl Store {
    #[handler]
    fn get(&self) -> Opaque {
        Opaque(1)
    }
}

fn main() {}
