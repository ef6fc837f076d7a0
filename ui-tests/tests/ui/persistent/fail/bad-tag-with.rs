use bactor::prelude::*;

/// Takes the event by value: a tagging function borrows it.
fn tag(event: TallyEvent) -> Vec<String> {
    drop(event);
    Vec::new()
}

#[actor]
#[persistent(tag_with = tag)]
#[derive(Default)]
struct Tally {
    total: u64,
}

#[actor]
impl Tally {
    #[event]
    fn added(&mut self, n: u64) {
        self.total += n;
    }
}

fn main() {}
