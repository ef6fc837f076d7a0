//! Remote tells over loopback: bactor-remote's endpoint against a hand-written tonic
//! baseline, in the same process, trials interleaved.
//!
//! - **baseline**: one bidirectional tonic stream (`bactor.remote.v1`'s service, used
//!   raw: no handshake, no tables), messages queued one by one on an unbounded channel
//!   and drained by a writer task into batches of whatever is pending, at most 1,000
//!   prost envelopes each; the server counts envelopes.
//! - **bactor-remote**: two `Endpoint`s (handshake, per-batch pid/name tables, byte-exact
//!   batching under the 4 MiB frame limit); `Peer::try_send_with` per message on a
//!   cached peer handle (as bactor's remote refs send); the receiver's `Inbound` counts.
//!
//! Both send 1,000,000 envelopes of an 8-byte payload to one target; the clock runs from
//! the first send until the receiver has counted the last. Both run in one process with
//! two tokio workers (`remote_nodes` runs two nodes in two processes, with actors).
//!
//! `cargo run --release --bin remote` (from `benches/`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bactor_remote::endpoint::{Endpoint, EndpointConfig, Inbound, SendError};
use bactor_remote::handshake::{Identity, Secret};
use bactor_remote::proto::frame::Body;
use bactor_remote::proto::remoting_client::RemotingClient;
use bactor_remote::proto::remoting_server::{Remoting, RemotingServer};
use bactor_remote::proto::{self, Frame};
use bactor_remote::{Envelope, Kind, Name, Payload, WirePid};
use tokio::sync::{Notify, mpsc};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

const N: u64 = 1_000_000;
const TRIALS: usize = 5;
const LIMIT: usize = 4 * 1024 * 1024;

/// Counts envelopes and wakes the clock at `N`.
struct Counter {
    seen: AtomicU64,
    done: Notify,
}

impl Counter {
    fn add(&self, n: u64) {
        if self.seen.fetch_add(n, Ordering::Relaxed) + n >= N {
            self.done.notify_one();
        }
    }
}

struct Baseline(Arc<Counter>);

#[tonic::async_trait]
impl Remoting for Baseline {
    type OpenStream = Pin<Box<dyn Stream<Item = Result<Frame, Status>> + Send>>;

    async fn open(
        &self,
        request: Request<Streaming<Frame>>,
    ) -> Result<Response<Self::OpenStream>, Status> {
        let mut frames = request.into_inner();
        let counter = Arc::clone(&self.0);
        // The response stream stays open while the request stream is read.
        let (keep, rx) = mpsc::channel::<Result<Frame, Status>>(1);
        tokio::spawn(async move {
            while let Some(Ok(frame)) = frames.next().await {
                if let Some(Body::Batch(b)) = frame.body {
                    counter.add(b.envelopes.len() as u64);
                }
            }
            drop(keep);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn baseline() -> Duration {
    let counter = Arc::new(Counter {
        seen: AtomicU64::new(0),
        done: Notify::new(),
    });
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    let service = RemotingServer::new(Baseline(Arc::clone(&counter)))
        .max_decoding_message_size(LIMIT)
        .max_encoding_message_size(LIMIT);
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .serve_with_incoming(service, incoming.with_nodelay(Some(true))),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    let mut client = RemotingClient::new(channel)
        .max_decoding_message_size(LIMIT)
        .max_encoding_message_size(LIMIT);
    let (frames, frames_rx) = mpsc::channel::<Frame>(16);
    let _response = client.open(ReceiverStream::new(frames_rx)).await.unwrap();
    let (queue, mut queue_rx) = mpsc::unbounded_channel::<proto::Envelope>();
    let writer = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(1000);
        while let Some(first) = queue_rx.recv().await {
            batch.push(first);
            while batch.len() < 1000 {
                match queue_rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let b = proto::Batch {
                pids: vec![proto::Pid {
                    node: 1,
                    id: 1,
                    incarnation: 1,
                }],
                names: vec!["Counter::add".into()],
                envelopes: std::mem::replace(&mut batch, Vec::with_capacity(1000)),
                packed: Default::default(),
            };
            if frames
                .send(Frame {
                    body: Some(Body::Batch(b)),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let start = Instant::now();
    for n in 0..N {
        let _ = queue.send(proto::Envelope {
            target: 0,
            sender: 0,
            kind: 0,
            method: 0,
            payload: n.to_le_bytes().to_vec().into(),
            correlation: 0,
            headers: Vec::new(),
        });
    }
    counter.done.notified().await;
    let elapsed = start.elapsed();
    drop(queue);
    let _ = writer.await;
    server.abort();
    elapsed
}

struct Count(Arc<Counter>);

impl Inbound for Count {
    fn deliver(&self, _from: &Identity, _envelope: Envelope) {
        self.0.add(1);
    }
    fn undeliverable(&self, envelope: Envelope, error: SendError) {
        panic!("{envelope:?}: {error}");
    }
}

async fn endpoint() -> Duration {
    let counter = Arc::new(Counter {
        seen: AtomicU64::new(0),
        done: Notify::new(),
    });
    let secret = Secret::new(*b"bench");
    let any = "127.0.0.1:0".parse().unwrap();
    let ignore = Arc::new(Counter {
        seen: AtomicU64::new(0),
        done: Notify::new(),
    });
    // The whole run is queued at once (the sender never waits): no queue limit here.
    let mut config = EndpointConfig::new(any, secret.clone());
    config.max_queued = usize::MAX / 2;
    let a = Endpoint::bind(config, Count(ignore)).await.unwrap();
    let b = Endpoint::bind(
        EndpointConfig::new(any, secret),
        Count(Arc::clone(&counter)),
    )
    .await
    .unwrap();
    let to = b.identity().address.clone();
    let target = WirePid {
        node: 1,
        id: 1,
        incarnation: 1,
    };
    // A cached handle to the peer's queue, as bactor's remote refs keep one.
    let peer = a.peer(&to);
    let start = Instant::now();
    for n in 0..N {
        peer.try_send_with(|| {
            Some(Envelope {
                target,
                sender: None,
                kind: Kind::Tell,
                method: Name::from("Counter::add"),
                payload: Payload::copy_from_slice(&n.to_le_bytes()),
                correlation: 0,
                headers: Vec::new(),
            })
        })
        .unwrap();
    }
    counter.done.notified().await;
    let elapsed = start.elapsed();
    a.shutdown().await;
    b.shutdown().await;
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut base, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..TRIALS {
        base.push(rt.block_on(baseline()));
        ours.push(rt.block_on(endpoint()));
    }
    let rate = |d: Duration| N as f64 / d.as_secs_f64() / 1e6;
    let (b, o) = (median(base), median(ours));
    println!(
        "| scenario | baseline: tonic stream, batches of ≤ 1,000 | bactor-remote endpoint | ratio |"
    );
    println!("|---|---|---|---|");
    println!(
        "| tell, 1,000,000 × 8-byte payload, one process, loopback | {:.2} M msgs/s | {:.2} M msgs/s | {:.2}x |",
        rate(b),
        rate(o),
        rate(o) / rate(b)
    );
}
