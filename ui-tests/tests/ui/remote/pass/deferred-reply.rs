//! A remote actor whose handler answers through its slot, later.
use bactor::prelude::*;

#[actor]
#[derive(Default)]
struct Oracle;

#[actor(remote)]
impl Oracle {
    #[handler]
    fn think(&mut self, question: String, reply: ReplyTo<Result<u64, String>>) {
        tokio::spawn(async move {
            let _ = reply.send(if question.is_empty() { Err("no question".into()) } else { Ok(42) });
        });
    }
}

fn main() {}
