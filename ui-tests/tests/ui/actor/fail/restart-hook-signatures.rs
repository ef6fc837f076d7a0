use bactor::prelude::*;

#[actor]
struct Hooks;

#[actor]
impl Hooks {
    fn pre_restart(&mut self, _reason: String) {}

    fn post_restart(&mut self, _reason: &ActorError) -> u32 {
        0
    }

    fn on_terminated(&mut self, _pid: Pid) {}
}

#[actor]
struct MoreHooks;

#[actor]
impl MoreHooks {
    async fn on_terminated(&self, _ctx: &mut Context<Self>, _pid: Pid, _reason: &StopReason) {}

    fn pre_restart(&mut self, _reason: &ActorError, _extra: u8) {}
}

fn main() {}
