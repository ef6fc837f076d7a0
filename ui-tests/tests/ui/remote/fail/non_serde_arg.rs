use bactor::prelude::*;

struct Opaque(u8);

#[actor]
struct Store;

#[actor(remote)]
impl Store {
    #[handler]
    fn put(&mut self, key: String, value: Opaque) {
        let _ = (key, value.0);
    }
}

fn main() {}
