//! Heartbeats and peer timeouts: a silent peer is dropped in time, an idle but healthy
//! stream stays up, a restarted peer is reached again with its new incarnation.

use std::pin::Pin;
use std::time::Duration;

use bactor_remote::endpoint::{Endpoint, EndpointConfig, EndpointEvent, SendError};
use bactor_remote::handshake::{self, Identity, Secret};
use bactor_remote::proto::Frame;
use bactor_remote::proto::frame::Body;
use bactor_remote::proto::remoting_server::{Remoting, RemotingServer};
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

mod common;
use common::{Seen, bounded, next_event, tell};

fn config(bind: &str) -> EndpointConfig {
    let mut c = EndpointConfig::new(bind.parse().unwrap(), Secret::new(*b"s"));
    c.heartbeat_interval = Duration::from_millis(50);
    c.peer_timeout = Duration::from_millis(400);
    c.handshake_timeout = Duration::from_secs(5);
    c.reconnect_min = Duration::from_millis(20);
    c.reconnect_max = Duration::from_millis(200);
    c.down_after = Duration::from_secs(3);
    c
}

async fn node(bind: &str) -> (Endpoint, mpsc::UnboundedReceiver<Seen>) {
    common::node(config(bind)).await
}

/// A listener that completes the handshake and then never sends another frame.
struct Silent {
    me: Identity,
}

#[tonic::async_trait]
impl Remoting for Silent {
    type OpenStream = Pin<Box<dyn Stream<Item = Result<Frame, Status>> + Send>>;

    async fn open(
        &self,
        request: Request<Streaming<Frame>>,
    ) -> Result<Response<Self::OpenStream>, Status> {
        let mut frames = request.into_inner();
        let (out, rx) = mpsc::channel(4);
        let me = self.me.clone();
        tokio::spawn(async move {
            let secret = Secret::new(*b"s");
            let Some(Ok(Frame {
                body: Some(Body::Hello(hello)),
            })) = frames.next().await
            else {
                return;
            };
            let (challenge, listening) = handshake::challenge(&hello, &me, &secret).unwrap();
            let _ = out
                .send(Frame {
                    body: Some(Body::Challenge(challenge)),
                })
                .await;
            let Some(Ok(Frame {
                body: Some(Body::Proof(proof)),
            })) = frames.next().await
            else {
                return;
            };
            let (welcome, _) = listening.verify(&proof).unwrap();
            let _ = out
                .send(Frame {
                    body: Some(Body::Welcome(welcome)),
                })
                .await;
            // Reads (and ignores) the dialler's frames, never answers again.
            while frames.next().await.is_some() {}
            drop(out);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).map(Ok))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_is_disconnected_after_the_peer_timeout() {
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    let silent = Silent {
        me: Identity::new(addr.to_string(), 5),
    };
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .serve_with_incoming(RemotingServer::new(silent), incoming),
    );
    let (a, mut seen) = node("127.0.0.1:0").await;
    a.send(&addr.to_string(), tell(1));
    match next_event(&mut seen).await {
        EndpointEvent::Connected { peer } => assert_eq!(peer.incarnation, 5),
        other => panic!("{other:?}"),
    }
    let connected = tokio::time::Instant::now();
    match next_event(&mut seen).await {
        EndpointEvent::Disconnected { reason, .. } => {
            assert!(reason.contains("nothing heard"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let after = connected.elapsed();
    assert!(
        after >= Duration::from_millis(390) && after < Duration::from_secs(5),
        "dropped after {after:?} with a 400 ms peer timeout"
    );
    // The next send dials again (and the silent peer answers the handshake again).
    a.send(&addr.to_string(), tell(2));
    assert!(matches!(
        next_event(&mut seen).await,
        EndpointEvent::Connected { .. }
    ));
    a.shutdown().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_an_idle_stream_up() {
    let (a, mut a_seen) = node("127.0.0.1:0").await;
    let (b, mut b_seen) = node("127.0.0.1:0").await;
    let to_b = b.identity().address.clone();
    a.send(&to_b, tell(1));
    assert!(matches!(
        next_event(&mut a_seen).await,
        EndpointEvent::Connected { .. }
    ));
    // Idle for five peer timeouts: the heartbeats (every 50 ms) keep both sides up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.send(&to_b, tell(2));
    let mut payloads = Vec::new();
    while payloads.len() < 2 {
        match bounded(b_seen.recv()).await.unwrap() {
            Seen::Delivered(_, env) => payloads.push(env.payload.to_vec()),
            Seen::Event(EndpointEvent::Connected { .. }) => {}
            other => panic!("b saw {other:?}"),
        }
    }
    assert_eq!(payloads, [1u32.to_be_bytes(), 2u32.to_be_bytes()]);
    if let Ok(seen) = a_seen.try_recv() {
        panic!("a saw {seen:?} while idle");
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_is_reached_again_with_its_new_incarnation() {
    let (a, mut a_seen) = node("127.0.0.1:0").await;
    let (b, _b_seen) = node("127.0.0.1:0").await;
    let addr = b.local_addr().to_string();
    let old = b.identity().incarnation;
    a.send(&addr, tell(1));
    assert!(matches!(
        next_event(&mut a_seen).await,
        EndpointEvent::Connected { peer } if peer.incarnation == old
    ));
    b.shutdown().await;
    match next_event(&mut a_seen).await {
        EndpointEvent::Disconnected { peer, .. } => assert_eq!(peer.incarnation, old),
        other => panic!("{other:?}"),
    }
    // Sent while b is away: it waits while a dials again...
    a.send(&addr, tell(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...and reaches the same address's new run, without anyone asking; the new run is
    // recognised as such.
    let (b2, mut b2_seen) = node(&addr).await;
    assert_ne!(b2.identity().incarnation, old);
    match next_event(&mut a_seen).await {
        EndpointEvent::Restarted { peer, previous } => {
            assert_eq!(
                (peer.incarnation, previous),
                (b2.identity().incarnation, old)
            );
        }
        other => panic!("{other:?}"),
    }
    match next_event(&mut a_seen).await {
        EndpointEvent::Connected { peer } => {
            assert_eq!(peer.incarnation, b2.identity().incarnation);
        }
        other => panic!("{other:?}"),
    }
    loop {
        match bounded(b2_seen.recv()).await.unwrap() {
            Seen::Delivered(from, env) => {
                assert_eq!(&from, a.identity());
                assert_eq!(&env.payload[..], &2u32.to_be_bytes());
                break;
            }
            Seen::Event(_) => {}
            other => panic!("{other:?}"),
        }
    }
    a.shutdown().await;
    b2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_come_back_is_reported_down() {
    let (a, mut a_seen) = node("127.0.0.1:0").await;
    let (b, _b_seen) = node("127.0.0.1:0").await;
    let addr = b.local_addr().to_string();
    a.send(&addr, tell(1));
    assert!(matches!(
        next_event(&mut a_seen).await,
        EndpointEvent::Connected { .. }
    ));
    b.shutdown().await;
    assert!(matches!(
        next_event(&mut a_seen).await,
        EndpointEvent::Disconnected { .. }
    ));
    let lost = tokio::time::Instant::now();
    a.send(&addr, tell(2));
    // Dialled again and again (20 ms, 40 ms, ... up to 200 ms apart) for the down
    // timeout of 3 s, then down; the envelope sent meanwhile comes back.
    let mut handed_back = None;
    let down = loop {
        match bounded(a_seen.recv()).await.unwrap() {
            Seen::Event(EndpointEvent::Down { address, reason }) => break (address, reason),
            Seen::Undeliverable(env, error) => handed_back = Some((env, error)),
            other => panic!("{other:?}"),
        }
    };
    let after = lost.elapsed();
    assert_eq!(down.0, addr);
    assert!(
        after >= Duration::from_millis(2_900) && after < Duration::from_secs(10),
        "down after {after:?}"
    );
    let (env, error) = match handed_back {
        Some(back) => back,
        None => match bounded(a_seen.recv()).await.unwrap() {
            Seen::Undeliverable(env, error) => (env, error),
            other => panic!("{other:?}"),
        },
    };
    assert_eq!(&env.payload[..], &2u32.to_be_bytes());
    assert!(matches!(error, SendError::Unreachable { .. }), "{error:?}");
    a.shutdown().await;
}
