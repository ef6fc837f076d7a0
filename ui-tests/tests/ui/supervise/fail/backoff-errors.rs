use bactor::prelude::*;

#[actor]
#[supervise(backoff = exponential(min = "10s", max = "1s"))]
struct MinAboveMax;

#[actor]
impl MinAboveMax {}

#[actor]
#[supervise(backoff = exponential(min = "1s", max = "2s", jitter = 1.5))]
struct BigJitter;

#[actor]
impl BigJitter {}

#[actor]
#[supervise(backoff = exponential(min = "1s"))]
struct NoMax;

#[actor]
impl NoMax {}

#[actor]
#[supervise(backoff = linear(step = "1s"))]
struct Linear;

#[actor]
impl Linear {}

#[actor]
#[supervise(backoff = exponential(min = "0ms", max = "1s", factor = 3))]
struct ZeroMinAndUnknownArg;

#[actor]
impl ZeroMinAndUnknownArg {}

fn main() {}
