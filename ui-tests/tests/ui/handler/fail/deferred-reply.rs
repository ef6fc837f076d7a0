use bactor::prelude::*;

#[actor]
#[derive(Default)]
struct Lookup;

#[actor]
impl Lookup {
    /// Two slots: a handler has one reply.
    #[handler]
    fn twice(&mut self, first: ReplyTo<u64>, second: ReplyTo<u64>) {
        let _ = first.send(1);
        let _ = second.send(2);
    }

    /// A slot and a returned value: which one answers?
    #[handler]
    fn both(&mut self, reply: ReplyTo<u64>) -> u64 {
        let _ = reply.send(1);
        2
    }

    /// `fail_on_error` acts on a returned value; this handler returns none.
    #[handler(fail_on_error)]
    fn failing(&mut self, reply: ReplyTo<Result<u64, String>>) {
        let _ = reply.send(Ok(1));
    }
}

fn main() {}
