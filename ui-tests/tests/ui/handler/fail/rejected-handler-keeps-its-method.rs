use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn get<T>(&self) -> u32 {
        1
    }
}

async fn use_it(c: CounterRef) {
    let _: Result<u32, AskError> = c.get().await;
}

fn main() {}
