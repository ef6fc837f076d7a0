use bactor::prelude::*;

#[actor]
#[derive(Default)]
struct Cache;

#[actor]
impl Cache {
    #[handler]
    fn size(&self) -> usize {
        0
    }
}

#[tokio::main]
async fn main() {
    let system = ActorSystem::new();
    let all = system.spawn_broadcast_pool(3, Cache::default).await.unwrap();
    // A broadcast offers tells only: there is no one reply to an ask.
    let _sizes = all.size().await;
}
