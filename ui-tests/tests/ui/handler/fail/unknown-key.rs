use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler(timeout = 5)]
    fn get(&self) -> u32 {
        1
    }

    #[handler(reply = maybe)]
    fn put(&self) {}

    #[handler = "x"]
    fn other(&self) {}

    #[handler(reply = plain, reply = result)]
    fn twice(&self) -> Result<(), ()> {
        Ok(())
    }
}

fn main() {}
