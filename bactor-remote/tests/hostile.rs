//! Hostile peers: random handshake and batch frames over real streams, raw garbage on the
//! socket. The endpoint answers each with a refusal or a closed stream, never a panic or
//! a hang, delivers nothing from them, and keeps serving a good peer.

use std::time::Duration;

use bactor_remote::endpoint::{Endpoint, EndpointConfig, Inbound, SendError};
use bactor_remote::handshake::{Identity, Secret};
use bactor_remote::proto::frame::Body;
use bactor_remote::proto::remoting_client::RemotingClient;
use bactor_remote::proto::{self, Frame};
use bactor_remote::{Envelope, Kind, Limits, WirePid};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::StreamExt;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;

struct Probe(mpsc::UnboundedSender<(Identity, Envelope)>);

impl Inbound for Probe {
    fn deliver(&self, from: &Identity, envelope: Envelope) {
        let _ = self.0.send((from.clone(), envelope));
    }
    fn undeliverable(&self, envelope: Envelope, error: SendError) {
        panic!("{envelope:?} undeliverable: {error}");
    }
}

fn random_bytes(rng: &mut fastrand::Rng, max: usize) -> Vec<u8> {
    (0..rng.usize(..max)).map(|_| rng.u8(..)).collect()
}

fn random_frame(rng: &mut fastrand::Rng) -> Frame {
    let body = match rng.u8(0..9) {
        0 => None,
        1 => Some(Body::Hello(proto::Hello {
            address: String::from_utf8_lossy(&random_bytes(rng, 40)).into_owned(),
            incarnation: rng.u64(..),
            nonce: random_bytes(rng, 40),
            max_frame_bytes: rng.u32(..),
            version: if rng.bool() { 1 } else { rng.u32(..) },
        })),
        2 => Some(Body::Hello(proto::Hello {
            address: "x".repeat(rng.usize(..3000)),
            incarnation: 1,
            nonce: vec![0; 32],
            max_frame_bytes: 1,
            version: 1,
        })),
        3 => Some(Body::Proof(proto::Proof {
            mac: random_bytes(rng, 40),
        })),
        4 => Some(Body::Challenge(proto::Challenge {
            nonce: random_bytes(rng, 40),
            mac: random_bytes(rng, 40),
        })),
        5 => Some(Body::Welcome(proto::Welcome::default())),
        6 => Some(Body::Refused(proto::Refused::default())),
        7 => Some(Body::Control(proto::Control::default())),
        _ => Some(Body::Batch(proto::Batch {
            pids: vec![proto::Pid::default(); rng.usize(..3)],
            names: vec!["m".into(); rng.usize(..3)],
            envelopes: (0..rng.usize(..4))
                .map(|_| proto::Envelope {
                    target: rng.u32(..4),
                    sender: rng.u32(..4),
                    kind: rng.i32(-1..6),
                    method: rng.u32(..4),
                    payload: random_bytes(rng, 64).into(),
                    correlation: rng.u64(..),
                    headers: Vec::new(),
                })
                .collect(),
            // Random records: flags, indices, lengths and payloads, mostly wrong.
            packed: random_bytes(rng, 64).into(),
        })),
    };
    Frame { body }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_get_refusals_and_good_ones_are_still_served() {
    let (d, mut delivered) = mpsc::unbounded_channel();
    let mut config = EndpointConfig::new("127.0.0.1:0".parse().unwrap(), Secret::new(*b"s"));
    config.handshake_timeout = Duration::from_millis(500);
    config.limits = Limits {
        max_frame_bytes: 16 * 1024,
        max_envelopes: 100,
    };
    let b = Endpoint::bind(config, Probe(d)).await.unwrap();
    let addr = b.local_addr();
    let mut rng = fastrand::Rng::with_seed(2026);
    let (mut refused, mut closed) = (0, 0);
    for _ in 0..300 {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = RemotingClient::new(channel);
        let (tx, rx) = mpsc::channel(8);
        for _ in 0..rng.usize(1..5) {
            tx.send(random_frame(&mut rng)).await.unwrap();
        }
        // The stream opens; whatever is answered ends within the handshake timeout.
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            let mut frames = client.open(ReceiverStream::new(rx)).await?.into_inner();
            let mut saw_refusal = false;
            while let Some(frame) = frames.next().await {
                match frame?.body {
                    Some(Body::Refused(_)) => saw_refusal = true,
                    Some(Body::Challenge(_)) => {}
                    other => panic!("a hostile peer got {other:?}"),
                }
            }
            Ok::<bool, tonic::Status>(saw_refusal)
        })
        .await
        .expect("the endpoint left a hostile stream hanging");
        drop(tx);
        match answer {
            Ok(true) => refused += 1,
            _ => closed += 1,
        }
    }
    assert!(refused > 100, "{refused} refused, {closed} closed");
    // Raw garbage on the socket, and connections that just hang up.
    for _ in 0..100 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(&random_bytes(&mut rng, 2000)).await;
        drop(s);
    }
    assert!(
        delivered.try_recv().is_err(),
        "nothing from a hostile peer is delivered"
    );
    // A good peer is still served.
    let (d2, _from_b) = mpsc::unbounded_channel();
    let a = Endpoint::bind(
        EndpointConfig::new("127.0.0.1:0".parse().unwrap(), Secret::new(*b"s")),
        Probe(d2),
    )
    .await
    .unwrap();
    let target = WirePid {
        node: 1,
        id: 1,
        incarnation: 1,
    };
    for n in 0..100u32 {
        a.send(
            &b.identity().address,
            Envelope::new(target, Kind::Tell, "m", n.to_be_bytes().to_vec()),
        );
    }
    for n in 0..100u32 {
        let (from, env) = tokio::time::timeout(Duration::from_secs(30), delivered.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&from, a.identity());
        assert_eq!(&env.payload[..], &n.to_be_bytes());
    }
    a.shutdown().await;
    b.shutdown().await;
}
