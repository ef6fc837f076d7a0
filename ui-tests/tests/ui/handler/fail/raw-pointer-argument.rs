use bactor::prelude::*;

#[actor]
struct Buffer;

#[actor]
impl Buffer {
    #[handler]
    fn write(&mut self, bytes: *const u8, len: usize) -> usize {
        let _ = bytes;
        len
    }
}

fn main() {}
