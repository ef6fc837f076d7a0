use bactor::prelude::*;

struct Point {
    x: f64,
}

#[actor]
struct Worker;

#[actor]
impl Worker {
    #[handler(route_key = at)]
    fn near(&self, at: Point) -> f64 {
        at.x
    }
}

fn main() {}
