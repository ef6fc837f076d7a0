// A generic persistent actor: its event enum is generic too, over every type parameter
// (`Holder`'s events carry `T`; `Tally`'s carry none of `U`).
use bactor::prelude::*;
use serde::{Serialize, de::DeserializeOwned};

#[actor]
#[persistent]
struct Holder<T: Send + 'static> {
    items: Vec<T>,
}

#[actor]
impl<T: Serialize + DeserializeOwned + Send + 'static> Holder<T> {
    #[handler]
    async fn add(&mut self, ctx: &mut Context<Self>, item: T) -> Result<(), PersistError> {
        self.persist(ctx, HolderEvent::Added { item }).await
    }

    #[event]
    fn added(&mut self, item: T) {
        self.items.push(item);
    }
}

#[actor]
#[persistent(snapshot_every = 10)]
#[derive(serde::Serialize, serde::Deserialize)]
struct Tally<U: Send + 'static> {
    n: u64,
    #[serde(skip)]
    unit: std::marker::PhantomData<fn() -> U>,
}

#[actor]
impl<U> Tally<U>
where
    U: Send + 'static,
{
    #[handler]
    async fn add(&mut self, ctx: &mut Context<Self>, by: u64) -> Result<u64, PersistError> {
        self.persist(ctx, TallyEvent::Added { by }).await?;
        Ok(self.n)
    }

    #[event]
    fn added(&mut self, by: u64) {
        self.n += by;
    }
}

fn main() {
    let _ = |system: ActorSystem| async move {
        let h = system
            .spawn_persistent("h", || Holder::<String> { items: Vec::new() })
            .await?;
        h.add("x".to_owned()).await?;
        let t = system
            .spawn_persistent("t", || Tally::<()> { n: 0, unit: std::marker::PhantomData })
            .await?;
        t.add(1).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    };
}
