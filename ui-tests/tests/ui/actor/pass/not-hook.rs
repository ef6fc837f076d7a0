#![deny(warnings)]

use bactor::prelude::*;

#[actor]
struct Session {
    ended: bool,
}

#[actor]
impl Session {
    /// A plain method whose name resembles the `on_terminated` hook.
    #[not_hook]
    fn on_terminate(&mut self) {
        self.ended = true;
    }

    #[handler]
    fn end(&mut self) -> bool {
        self.on_terminate();
        self.ended
    }
}

#[tokio::main]
async fn main() {
    let system = ActorSystem::new();
    let session = system.spawn(|| Session { ended: false }).await.unwrap();
    assert!(session.end().await.unwrap());
    system.shutdown().await;
}
