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
    async fn added(&mut self, by: u64) {
        self.n += by;
    }
}

async fn use_it(c: CounterRef) {
    let _ = c.add(1).await;
}

fn main() {}
