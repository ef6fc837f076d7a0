//! `#[actor(crate = ...)]` points generated code at a re-export of bactor.
#![deny(warnings)]

mod shim {
    pub use bactor::*;
}

#[shim::actor(crate = crate::shim)]
struct Counter(u32);

#[shim::actor(crate = crate::shim)]
impl Counter {
    #[handler]
    fn bump(&mut self) -> u32 {
        self.0 += 1;
        self.0
    }
}

#[tokio::main]
async fn main() {
    let system = shim::ActorSystem::new();
    let c = system.spawn(|| Counter(0)).await.unwrap();
    assert_eq!(c.bump().await.unwrap(), 1);
    system.shutdown().await;
}
