#![cfg(feature = "remote")]
//! A first look at remote actors: two nodes in one process.

use bactor::prelude::*;
use bactor::remote::NodeBuilder;

#[actor]
#[derive(Default)]
struct Counter {
    count: u64,
}

#[actor(remote)]
impl Counter {
    #[handler]
    fn add(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }

    #[handler]
    fn get(&self) -> u64 {
        self.count
    }
}

#[tokio::test]
async fn spawn_tell_ask() {
    let any = "127.0.0.1:0".parse().unwrap();
    let a = NodeBuilder::new(any, "s").start().await.unwrap();
    let b = NodeBuilder::new(any, "s").kind(Counter::default).start().await.unwrap();
    let c: CounterRef = a.spawn_remote::<Counter>(b.address(), Some("c")).await.unwrap();
    assert_eq!(c.add(2).await.unwrap(), 2);
    c.add(3).tell().await.unwrap();
    assert_eq!(c.get().await.unwrap(), 5);
    a.shutdown().await;
    b.shutdown().await;
}
