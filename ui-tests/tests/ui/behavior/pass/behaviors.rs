#![deny(warnings)]

use bactor::prelude::*;

#[derive(Debug)]
enum Link {
    Down,
    Up(String),
    Busy { since: u64 },
}

#[actor(state = link, otherwise = stash, stash = 16)]
struct Conn {
    link: Link,
}

#[actor]
impl Conn {
    #[handler(when = Up(..) | Busy { .. })]
    fn send(&self, text: String) -> usize {
        text.len()
    }

    #[handler(when = Down, otherwise = reject)]
    fn open(&mut self, peer: String) {
        self.link = Link::Up(peer);
    }

    #[handler(when = Up(..), otherwise = drop)]
    fn ping(&self) {}

    #[handler]
    fn busy(&mut self) {
        self.link = Link::Busy { since: 1 };
    }

    fn on_receive_timeout(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        ctx.stop();
        Ok(())
    }
}

/// Generic actors with behaviours.
enum Slot<T> {
    Empty,
    Full(T),
}

#[actor(state = slot)]
struct Cell<T: Send + 'static> {
    slot: Slot<T>,
}

#[actor]
impl<T: Send + 'static> Cell<T> {
    #[handler(when = Empty)]
    fn put(&mut self, value: T) {
        self.slot = Slot::Full(value);
    }

    #[handler(when = Full(..))]
    fn take(&mut self) -> Option<T> {
        match std::mem::replace(&mut self.slot, Slot::Empty) {
            Slot::Full(v) => Some(v),
            Slot::Empty => None,
        }
    }
}

#[tokio::main]
async fn main() {
    let system = ActorSystem::new();
    let c = system
        .spawn(|| Conn { link: Link::Down })
        .await
        .unwrap();
    c.open("db".into()).await.unwrap();
    assert_eq!(c.send("abc".into()).await.unwrap(), 3);
    c.ping().await.unwrap();
    c.busy().await.unwrap();
    assert_eq!(c.send("ab".into()).await.unwrap(), 2);
    let cell = system.spawn(|| Cell::<u8> { slot: Slot::Empty }).await.unwrap();
    cell.put(7).await.unwrap();
    assert_eq!(cell.take().await.unwrap(), Some(7));
    assert!(cell.take().await.is_err());
    system.shutdown().await;
}
