use bactor::prelude::*;

#[actor]
#[persistent]
struct Holder<T: Send + 'static> {
    items: Vec<T>,
}

#[actor]
impl<T: Send + 'static> Holder<T> {
    #[event]
    fn added(&mut self, item: T) {
        self.items.push(item);
    }
}

fn main() {}
