#![cfg(feature = "remote")]
//! A hostile (but authenticated) peer: 100,000 random envelopes at a node, aimed at a
//! live actor, at pids that do not exist, with real and made-up methods, garbage and
//! truncated payloads, and system methods. The node never panics, answers every ask with
//! a reply or an error reply, and keeps serving an honest node afterwards.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bactor::prelude::*;
use bactor::remote::NodeBuilder;
use bactor_remote::endpoint::{Endpoint, EndpointConfig, Inbound, SendError};
use bactor_remote::handshake::{Identity, Secret};
use bactor_remote::{Envelope, Kind, WirePid};
use common::no_hang;

const SECRET: &[u8] = b"hostile but authenticated";

#[actor]
#[derive(Default)]
struct Store {
    values: Vec<u64>,
}

#[actor(remote)]
impl Store {
    #[handler]
    fn put(&mut self, value: u64) {
        self.values.push(value);
    }

    #[handler]
    fn sum(&self) -> u64 {
        self.values.iter().sum()
    }

    #[handler]
    fn echo(&self, text: String, times: u8) -> String {
        text.repeat(usize::from(times % 4))
    }
}

/// What the attacker's endpoint hears back: the correlation ids answered.
#[derive(Default)]
struct Answers {
    answered: Mutex<Vec<(u64, Kind)>>,
    undeliverable: Mutex<usize>,
}

struct Attacker(Arc<Answers>);

impl Inbound for Attacker {
    fn deliver(&self, _from: &Identity, envelope: Envelope) {
        self.0
            .answered
            .lock()
            .unwrap()
            .push((envelope.correlation, envelope.kind));
    }

    fn undeliverable(&self, _envelope: Envelope, _error: SendError) {
        *self.0.undeliverable.lock().unwrap() += 1;
    }
}

fn random_bytes(rng: &mut fastrand::Rng, max: usize) -> Vec<u8> {
    let len = rng.usize(..=max);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// A valid postcard payload for one of the store's methods, cut short at random.
fn truncated(rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut good = postcard::to_stdvec(&("some text".repeat(rng.usize(0..4)), 3u8)).unwrap();
    good.truncate(rng.usize(0..good.len().max(1)));
    good
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_envelopes_get_answers_and_the_node_keeps_serving() {
    let any = "127.0.0.1:0".parse().unwrap();
    let node = NodeBuilder::new(any, SECRET)
        .kind(Store::default)
        .start()
        .await
        .unwrap();
    let store = node.spawn(Store::default).await.unwrap();
    let real = store.pid();
    let answers = Arc::new(Answers::default());
    let attacker = Endpoint::bind(
        EndpointConfig::new(any, Secret::new(SECRET.to_vec())),
        Attacker(Arc::clone(&answers)),
    )
    .await
    .unwrap();
    let seed = std::env::var("BACTOR_HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("hostile envelopes seed: {seed} (BACTOR_HOSTILE_SEED={seed} replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let methods = [
        "Store::put",
        "Store::sum",
        "Store::echo",
        "Store::nope",
        "Other::put",
        "",
        "$watch",
        "$unwatch",
        "$terminated",
        "$nonsense",
        "$spawn",
        "$lookup",
    ];
    let mut asks = HashSet::new();
    const INPUTS: u64 = 100_000;
    for n in 1..=INPUTS {
        let target = match rng.u8(0..10) {
            0..=5 => real,
            6 => Pid::new(real.node(), rng.u64(..), real.incarnation()),
            7 => Pid::new(real.node(), real.id(), rng.u64(..)),
            _ => Pid::new(rng.u64(..), rng.u64(..), rng.u64(..)),
        };
        let method = methods[rng.usize(..methods.len())];
        let payload = match rng.u8(0..4) {
            0 => random_bytes(&mut rng, 64),
            1 => truncated(&mut rng),
            2 => postcard::to_stdvec(&(rng.u64(..),)).unwrap(),
            _ => Vec::new(),
        };
        let ask = rng.bool() && !method.starts_with('$');
        let kind = if ask {
            Kind::Ask
        } else {
            [Kind::Tell, Kind::Reply, Kind::Failure][rng.usize(..3)]
        };
        let mut envelope = Envelope::new(
            WirePid {
                node: target.node(),
                id: target.id(),
                incarnation: target.incarnation(),
            },
            kind,
            method,
            payload,
        );
        envelope.correlation = if ask { n } else { rng.u64(..) };
        if ask {
            asks.insert(n);
        }
        attacker.send_wait(node.address(), envelope).await;
    }
    assert!(
        asks.len() > INPUTS as usize / 5,
        "enough asks among the inputs"
    );
    // Every ask is answered, once, with a reply or an error reply: nothing times out.
    no_hang(async {
        loop {
            let answered = answers.answered.lock().unwrap().len();
            if answered >= asks.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let answered = answers.answered.lock().unwrap().clone();
    let ids: HashSet<u64> = answered.iter().map(|(c, _)| *c).collect();
    assert_eq!(ids, asks, "every ask answered, nothing else");
    assert_eq!(answered.len(), asks.len(), "each exactly once");
    assert!(
        answered
            .iter()
            .all(|(_, k)| matches!(k, Kind::Reply | Kind::Failure))
    );
    assert!(
        answered.iter().any(|(_, k)| *k == Kind::Failure),
        "garbage got error replies"
    );
    assert_eq!(*answers.undeliverable.lock().unwrap(), 0);
    // The node still serves an honest peer: a fresh actor spawned from another node.
    let honest = NodeBuilder::new(any, SECRET).start().await.unwrap();
    let fresh = no_hang(honest.spawn_remote::<Store>(node.address(), None))
        .await
        .unwrap();
    fresh.put(20).await.unwrap();
    fresh.put(22).await.unwrap();
    assert_eq!(no_hang(fresh.sum()).await, Ok(42));
    assert_eq!(
        no_hang(fresh.echo("ab".into(), 2)).await,
        Ok("abab".to_owned())
    );
    attacker.shutdown().await;
    honest.shutdown().await;
    node.shutdown().await;
}
