use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler(fail_on_error)]
    fn not_a_result(&mut self) -> u32 {
        1
    }

    #[handler(fail_on_error = true)]
    fn with_value(&mut self) -> Result<(), std::io::Error> {
        Ok(())
    }
}

fn main() {}
