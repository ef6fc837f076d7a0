use bactor::prelude::*;

enum Door {
    Open,
}

#[actor(state = "door")]
struct Gate {
    door: Door,
}

#[actor]
impl Gate {
    #[handler]
    fn knock(&self) -> bool {
        matches!(self.door, Door::Open)
    }
}

fn main() {}
