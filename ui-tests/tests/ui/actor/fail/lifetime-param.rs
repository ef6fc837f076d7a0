use bactor::prelude::*;

#[actor]
struct Borrowing<'a> {
    name: &'a str,
}

#[actor]
impl<'a> Borrowing<'a> {}

fn main() {}
