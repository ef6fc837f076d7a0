use bactor::prelude::*;

#[actor]
struct Hooks;

#[actor]
impl Hooks {
    fn pre_start(&self) {}

    async fn post_stop(&mut self) -> Result<(), ActorError> {
        Ok(())
    }
}

#[actor]
struct MoreHooks;

#[actor]
impl MoreHooks {
    fn pre_start<T>(&mut self, _ctx: &mut Context<Self>, extra: u32) -> u32 {
        extra
    }

    fn post_stop(self) {}
}

fn main() {}
