//! What the endpoint tests share: a probe that records everything an endpoint hands over.

use std::time::Duration;

use bactor_remote::endpoint::{Endpoint, EndpointConfig, EndpointEvent, Inbound, SendError};
use bactor_remote::handshake::Identity;
use bactor_remote::{Envelope, Kind, WirePid};
use tokio::sync::mpsc;

/// Guards against hangs only.
const HANG: Duration = Duration::from_secs(30);

pub(crate) async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f).await.expect("hung")
}

/// One thing an endpoint handed to its inbound.
#[derive(Debug)]
#[allow(dead_code)] // the fields are read through `Debug`, in failure messages
pub(crate) enum Seen {
    Delivered(Identity, Envelope),
    Undeliverable(Envelope, SendError),
    Event(EndpointEvent),
}

struct Probe(mpsc::UnboundedSender<Seen>);

impl Inbound for Probe {
    fn deliver(&self, from: &Identity, envelope: Envelope) {
        let _ = self.0.send(Seen::Delivered(from.clone(), envelope));
    }
    fn undeliverable(&self, envelope: Envelope, error: SendError) {
        let _ = self.0.send(Seen::Undeliverable(envelope, error));
    }
    fn event(&self, event: EndpointEvent) {
        let _ = self.0.send(Seen::Event(event));
    }
}

/// An endpoint with `config`, and what it sees.
pub(crate) async fn node(config: EndpointConfig) -> (Endpoint, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Endpoint::bind(config, Probe(tx)).await.unwrap(), rx)
}

/// A tell carrying `n`.
pub(crate) fn tell(n: u32) -> Envelope {
    let to = WirePid {
        node: 1,
        id: 1,
        incarnation: 1,
    };
    Envelope::new(to, Kind::Tell, "m", n.to_be_bytes().to_vec())
}

/// The next event (whatever else comes first is skipped).
#[allow(dead_code)]
pub(crate) async fn next_event(seen: &mut mpsc::UnboundedReceiver<Seen>) -> EndpointEvent {
    loop {
        if let Seen::Event(e) = bounded(seen.recv()).await.unwrap() {
            return e;
        }
    }
}

/// The next delivered envelope (events in between are skipped).
#[allow(dead_code)]
pub(crate) async fn delivered(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Envelope {
    loop {
        match bounded(seen.recv()).await.unwrap() {
            Seen::Delivered(_, env) => return env,
            Seen::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
}

/// The next envelope handed back (events in between are skipped).
#[allow(dead_code)]
pub(crate) async fn handed_back(seen: &mut mpsc::UnboundedReceiver<Seen>) -> SendError {
    loop {
        match bounded(seen.recv()).await.unwrap() {
            Seen::Undeliverable(_, error) => return error,
            Seen::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
}
