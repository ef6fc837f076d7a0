//! A private actor with private argument types compiles without warnings, and a public
//! actor's generated items are public.
#![deny(warnings)]

use bactor::prelude::*;

struct Secret(u8);

#[actor]
struct Hidden {
    last: u8,
}

#[actor]
impl Hidden {
    #[handler]
    fn keep(&mut self, s: Secret) -> u8 {
        self.last = s.0;
        self.last
    }
}

pub mod public {
    use bactor::prelude::*;

    #[actor]
    #[derive(Debug, Default)]
    pub struct Open;

    #[actor]
    impl Open {
        /// Public handler, public ref method.
        #[handler]
        pub fn hello(&self) -> &'static str {
            "hello"
        }
    }
}

#[tokio::main]
async fn main() {
    let system = ActorSystem::new();
    let h = system.spawn(|| Hidden { last: 0 }).await.unwrap();
    assert_eq!(h.keep(Secret(7)).await.unwrap(), 7);
    let o: public::OpenRef = system.spawn(public::Open::default).await.unwrap();
    let _msg: Option<public::OpenMsg> = None;
    assert_eq!(o.hello().await.unwrap(), "hello");
    system.shutdown().await;
}
