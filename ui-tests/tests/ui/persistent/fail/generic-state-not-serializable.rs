// A generic state with snapshots whose type parameter is not serializable where the
// actor is: the error names the missing snapshot capability.
use bactor::prelude::*;

#[actor]
#[persistent(snapshot_every = 10)]
#[derive(serde::Serialize, serde::Deserialize)]
struct Shelf<T: Send + 'static> {
    items: Vec<T>,
}

#[actor]
impl<T: Send + 'static> Shelf<T> {
    #[event]
    fn placed(&mut self, item: T) {
        self.items.push(item);
    }
}

fn main() {}
