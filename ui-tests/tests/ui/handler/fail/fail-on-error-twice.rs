use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler(fail_on_error, fail_on_error)]
    fn risky(&mut self) -> Result<(), std::io::Error> {
        Ok(())
    }
}

fn main() {}
