use bactor::prelude::*;

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handler(fail_on_error)]
    fn work(&mut self) -> Result<(), String> {
        Err("broken".into())
    }
}

fn main() {}
