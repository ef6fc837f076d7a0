use bactor::prelude::*;

#[actor]
struct Counter;

#[actor]
impl Counter {
    #[handler]
    fn shared_ctx(&self, _ctx: &Context<Self>) {}

    #[handler]
    fn two_ctx(&self, _a: &mut Context<Self>, _b: &mut Context<Self>) {}
}

fn main() {}
