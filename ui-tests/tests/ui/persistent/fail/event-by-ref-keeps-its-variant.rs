use bactor::prelude::*;

#[actor]
#[persistent]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[handler]
    async fn add(&mut self, ctx: &mut Context<Self>, by: u64) -> Result<u64, PersistError> {
        self.persist(ctx, CounterEvent::Added { by }).await?;
        Ok(self.n)
    }

    #[event]
    fn added(&self, by: u64) {
        let _ = by;
    }
}

fn main() {}
