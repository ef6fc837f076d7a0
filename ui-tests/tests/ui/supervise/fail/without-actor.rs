use bactor::prelude::*;

#[supervise(max_restarts = 1)]
struct Plain;

#[supervise(max_restarts = 1)]
fn not_a_type() {}

fn main() {}
