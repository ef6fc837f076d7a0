use bactor::prelude::*;

#[actor]
struct Greeter;

#[actor]
impl Greeter {
    #[handler]
    fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }
}

// The one error is on `&str`: the ref still has `greet`, so this compiles as it will
// once the argument is a `String`.
async fn caller(greeter: GreeterRef) -> Result<String, AskError> {
    greeter.greet("ann").await
}

fn main() {}
