//! Everything `#[actor(remote)]` accepts: sync and async handlers, `ctx`, no arguments
//! and several, `Result` replies, refs as arguments, a chosen kind name, generics.
use bactor::prelude::*;
use bactor::remote::RemoteActor;

#[actor]
#[derive(Default)]
struct Store {
    items: Vec<(String, u64)>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum StoreError {
    Missing(String),
}

#[actor(remote = "store-v1")]
impl Store {
    #[handler]
    fn put(&mut self, key: String, value: u64) {
        self.items.push((key, value));
    }

    #[handler]
    async fn get(&self, key: String) -> Result<u64, StoreError> {
        self.items
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or(StoreError::Missing(key))
    }

    #[handler(priority = high)]
    fn len(&self, _ctx: &mut Context<Self>) -> usize {
        self.items.len()
    }

    #[handler]
    fn forward(&self, to: StoreRef) -> Pid {
        to.pid()
    }
}

#[actor]
struct Holder<T: Send + 'static> {
    value: Option<T>,
}

#[actor(remote)]
impl<T> Holder<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + 'static,
{
    #[handler]
    fn set(&mut self, value: T) {
        self.value = Some(value);
    }

    #[handler]
    fn get(&self) -> Option<T> {
        self.value.clone()
    }
}

fn main() {
    assert_eq!(Store::KIND, "store-v1");
    assert_eq!(<Holder<u8> as RemoteActor>::KIND, "Holder");
}
