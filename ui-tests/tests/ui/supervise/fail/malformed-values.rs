use bactor::prelude::*;

#[actor]
#[supervise = "fast"]
struct NameValue;

#[actor]
impl NameValue {}

#[actor]
#[supervise(max_restarts = 5000000000)]
struct TooMany;

#[actor]
impl TooMany {}

#[actor]
#[supervise(within = "99999999999h")]
struct TooLong;

#[actor]
impl TooLong {}

#[actor]
#[supervise(backoff = exponential(min = "1s", min = "2s", max = "3s"))]
struct TwoMins;

#[actor]
impl TwoMins {}

fn main() {}
