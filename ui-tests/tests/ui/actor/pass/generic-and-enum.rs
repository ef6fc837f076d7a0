#![deny(warnings, unused_qualifications)]

use bactor::prelude::*;

#[actor(mailbox = unbounded, throughput = 32)]
pub struct Holder<T: Clone + Send + 'static> {
    item: Option<T>,
}

#[actor]
impl<T: Clone + Send + 'static> Holder<T> {
    #[handler]
    pub fn put(&mut self, item: T) {
        self.item = Some(item);
    }

    #[handler]
    pub fn take(&mut self) -> Option<T> {
        self.item.take()
    }
}

/// An actor with a type parameter that no handler uses.
#[actor(mailbox = bounded(4))]
pub struct Tagged<Tag: Send + 'static> {
    _tag: std::marker::PhantomData<fn() -> Tag>,
}

#[actor]
impl<Tag: Send + 'static> Tagged<Tag> {}

#[actor]
pub enum Switch {
    On,
    Off,
}

#[actor]
impl Switch {
    #[handler]
    pub fn flip(&mut self) -> bool {
        *self = match self {
            Switch::On => Switch::Off,
            Switch::Off => Switch::On,
        };
        matches!(self, Switch::On)
    }
}

#[tokio::main]
async fn main() {
    let system = ActorSystem::new();
    let h: HolderRef<String> = system.spawn(|| Holder { item: None }).await.unwrap();
    h.put("x".to_owned()).await.unwrap();
    assert_eq!(h.take().await.unwrap().as_deref(), Some("x"));
    let t: TaggedRef<u8> = system
        .spawn(|| Tagged { _tag: std::marker::PhantomData })
        .await
        .unwrap();
    assert!(t.is_alive());
    let s = system.spawn(|| Switch::Off).await.unwrap();
    assert!(s.flip().await.unwrap());
    system.shutdown().await;
}
