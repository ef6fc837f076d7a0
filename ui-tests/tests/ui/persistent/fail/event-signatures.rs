use bactor::prelude::*;

#[actor]
#[persistent]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[event]
    fn by_ref(&self, _by: u64) {}

    #[event]
    async fn later(&mut self) {}

    #[event]
    fn with_ctx(&mut self, _ctx: &mut Context<Self>) {}

    #[event]
    fn borrowed(&mut self, _name: &str) {}

    #[event]
    fn returns(&mut self) -> u64 {
        self.n
    }

    #[event(replay = false)]
    fn with_args(&mut self) {}

    #[event]
    #[handler]
    fn both(&mut self) {}
}

fn main() {}
