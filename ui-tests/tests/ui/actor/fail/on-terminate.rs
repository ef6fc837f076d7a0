use bactor::prelude::*;

#[actor]
struct Watcher;

#[actor]
impl Watcher {
    async fn on_terminate(&mut self, _ctx: &mut Context<Self>, _pid: Pid, _reason: &StopReason) {}
}

fn main() {}
