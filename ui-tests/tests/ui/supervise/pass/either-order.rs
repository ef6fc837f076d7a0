#![deny(warnings)]

use bactor::prelude::*;

fn decide(error: &ActorError) -> Directive {
    if error.is_panic() {
        Directive::Restart
    } else {
        Directive::Stop
    }
}

#[actor]
#[supervise(
    strategy = all_for_one,
    max_restarts = 3,
    within = "500ms",
    backoff = exponential(min = "10ms", max = "1s", jitter = 0.5, reset = "2s"),
    decide = decide,
)]
struct After;

#[actor]
impl After {}

#[supervise(strategy = one_for_one, max_restarts = 7)]
#[actor]
struct Before;

#[actor]
impl Before {}

fn main() {
    let after = <After as Actor>::supervisor_strategy().unwrap();
    assert_eq!(after.max_restarts_value(), 3);
    assert_eq!(after.within_value(), std::time::Duration::from_millis(500));
    assert_eq!(after.strategy(), bactor::Strategy::AllForOne);
    let before = <Before as Actor>::supervisor_strategy().unwrap();
    assert_eq!(before.max_restarts_value(), 7);
}
