//! Every handler shape, expanded under strict lints.
#![deny(warnings, unused_qualifications, missing_debug_implementations)]

use bactor::prelude::*;

#[actor]
#[derive(Debug, Default)]
pub struct Shapes {
    n: u64,
}

#[derive(Debug)]
pub struct Oops;

#[actor]
impl Shapes {
    /// sync, `&mut self`
    #[handler]
    pub fn sync_mut(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    /// sync, `&self`, no reply
    #[handler]
    pub fn sync_ref(&self) {}

    /// async, `&mut self`
    #[handler]
    pub async fn async_mut(&mut self, a: u8, b: String) -> usize {
        self.n += u64::from(a);
        b.len()
    }

    /// async, `&self`, context
    #[handler]
    pub async fn async_ref(&self, ctx: &mut Context<Self>) -> Pid {
        ctx.pid()
    }

    /// `Result` reply
    #[handler]
    pub fn fallible(&mut self, ok: bool) -> Result<u64, Oops> {
        if ok { Ok(self.n) } else { Err(Oops) }
    }

    /// private handler: private ref method
    #[handler]
    fn private(&self) {}

    async fn pre_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), ActorError> {
        Ok(())
    }

    async fn post_stop(&mut self, _ctx: &mut Context<Self>) {}
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let s: ShapesRef = system.spawn(Shapes::default).await?;
    assert_eq!(s.sync_mut(2).await?, 2);
    s.sync_ref().await?;
    assert_eq!(s.async_mut(1, "xy".into()).await?, 2);
    assert_eq!(s.async_ref().await?, s.pid());
    assert_eq!(s.fallible(true).await.ok(), Some(3));
    assert!(matches!(s.fallible(false).await, Err(AskError::Handler(Oops))));
    s.private().tell().await?;
    system.shutdown().await;
    Ok(())
}
