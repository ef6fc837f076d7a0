//! What several bench binaries share (each includes it with `mod shared;`).

#![allow(dead_code)] // not every binary uses every item

use std::time::Duration;

use bactor::prelude::*;

/// The median of the trials.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The actor of the tell and ask benches: adds what it is told, answers the sum.
#[actor(mailbox = 1024)]
#[derive(Default)]
pub struct Sink {
    sum: u64,
}

#[actor]
impl Sink {
    #[handler]
    pub fn add(&mut self, n: u64) {
        self.sum = self.sum.wrapping_add(n);
    }

    #[handler]
    pub fn sum(&self) -> u64 {
        self.sum
    }
}
