use std::rc::Rc;

use bactor::prelude::*;

#[actor]
struct Names;

#[actor]
impl Names {
    #[handler]
    fn first(&self) -> Option<Rc<str>> {
        None
    }
}

fn main() {}
