//! Endpoints over loopback TCP: the handshake, batches both ways over one stream, refusals.

use std::time::Duration;

use bactor_remote::endpoint::{Endpoint, EndpointConfig, Inbound, SendError};
use bactor_remote::handshake::{Identity, Secret};
use bactor_remote::{Envelope, Kind, Limits, WirePid};
use tokio::sync::mpsc;

const HANG: Duration = Duration::from_secs(30);

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f).await.expect("hung")
}

/// Everything an endpoint hands over, as channel messages.
struct Probe {
    delivered: mpsc::UnboundedSender<(Identity, Envelope)>,
    refused: mpsc::UnboundedSender<(Envelope, SendError)>,
}

impl Inbound for Probe {
    fn deliver(&self, from: &Identity, envelope: Envelope) {
        let _ = self.delivered.send((from.clone(), envelope));
    }
    fn undeliverable(&self, envelope: Envelope, error: SendError) {
        let _ = self.refused.send((envelope, error));
    }
}

struct Node {
    endpoint: Endpoint,
    delivered: mpsc::UnboundedReceiver<(Identity, Envelope)>,
    refused: mpsc::UnboundedReceiver<(Envelope, SendError)>,
}

async fn node(secret: &[u8], limits: Limits) -> Node {
    node_at(secret, limits, None).await
}

async fn node_at(secret: &[u8], limits: Limits, advertised: Option<&str>) -> Node {
    let (d, delivered) = mpsc::unbounded_channel();
    let (r, refused) = mpsc::unbounded_channel();
    let mut config =
        EndpointConfig::new("127.0.0.1:0".parse().unwrap(), Secret::new(secret.to_vec()));
    config.limits = limits;
    config.advertised = advertised.map(str::to_owned);
    config.handshake_timeout = Duration::from_secs(5);
    config.down_after = Duration::from_millis(500);
    let endpoint = Endpoint::bind(
        config,
        Probe {
            delivered: d,
            refused: r,
        },
    )
    .await
    .unwrap();
    Node {
        endpoint,
        delivered,
        refused,
    }
}

fn pid(id: u64) -> WirePid {
    WirePid {
        node: 1,
        id,
        incarnation: 1,
    }
}

fn tell(id: u64, n: u32) -> Envelope {
    Envelope::new(
        pid(id),
        Kind::Tell,
        "Counter::add",
        n.to_be_bytes().to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_arrive_in_order_and_replies_share_the_stream() {
    // a advertises an address nobody can dial: b can only answer over a's stream.
    let mut a = node_at(b"s", Limits::default(), Some("nowhere.invalid:1")).await;
    let mut b = node(b"s", Limits::default()).await;
    let to_b = b.endpoint.identity().address.clone();
    for n in 0..10_000 {
        a.endpoint.send(&to_b, tell(7, n));
    }
    for n in 0..10_000u32 {
        let (from, env) = bounded(b.delivered.recv()).await.unwrap();
        assert_eq!(&from, a.endpoint.identity(), "the dialler is who it said");
        assert_eq!(env.target, pid(7));
        assert_eq!(&env.payload[..], &n.to_be_bytes(), "in send order");
    }
    // b answers over the stream a opened (dialling "nowhere.invalid" would fail), in
    // order too.
    let to_a = a.endpoint.identity().address.clone();
    for n in 0..100u32 {
        let mut reply = Envelope::new(pid(1), Kind::Reply, "u32", n.to_be_bytes().to_vec());
        reply.correlation = u64::from(n) + 1;
        b.endpoint.send(&to_a, reply);
    }
    for n in 0..100u32 {
        let (from, env) = bounded(a.delivered.recv()).await.unwrap();
        assert_eq!(&from, b.endpoint.identity());
        assert_eq!((env.kind, env.correlation), (Kind::Reply, u64::from(n) + 1));
    }
    assert!(a.refused.try_recv().is_err() && b.refused.try_recv().is_err());
    bounded(a.endpoint.shutdown()).await;
    bounded(b.endpoint.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_without_the_secret_is_refused_and_every_envelope_comes_back() {
    let mut a = node(b"wrong", Limits::default()).await;
    let mut b = node(b"right", Limits::default()).await;
    let to_b = b.endpoint.identity().address.clone();
    for n in 0..5 {
        a.endpoint.send(&to_b, tell(1, n));
    }
    for n in 0..5u32 {
        let (env, error) = bounded(a.refused.recv()).await.unwrap();
        assert_eq!(&env.payload[..], &n.to_be_bytes());
        match error {
            SendError::Unreachable { peer, reason } => {
                assert_eq!(peer, to_b);
                assert!(reason.contains("secret"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Nothing was delivered to b.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(b.delivered.try_recv().is_err());
    bounded(a.endpoint.shutdown()).await;
    bounded(b.endpoint.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_peer_hands_the_envelopes_back() {
    let mut a = node(b"s", Limits::default()).await;
    a.endpoint.send(&closed_address(), tell(1, 1));
    let (_, error) = bounded(a.refused.recv()).await.unwrap();
    assert!(matches!(error, SendError::Unreachable { .. }), "{error:?}");
    bounded(a.endpoint.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_frame_limit_is_refused_and_the_stream_stays_up() {
    let limits = Limits {
        max_frame_bytes: 64 * 1024,
        max_envelopes: 1000,
    };
    let mut a = node(b"s", limits).await;
    let mut b = node(b"s", limits).await;
    let to_b = b.endpoint.identity().address.clone();
    a.endpoint.send(&to_b, tell(1, 1));
    let big = Envelope::new(pid(1), Kind::Tell, "Blob::put", vec![0u8; 100 * 1024]);
    a.endpoint.send(&to_b, big);
    a.endpoint.send(&to_b, tell(1, 2));
    match bounded(a.refused.recv()).await.unwrap() {
        (env, SendError::TooLarge { size, limit }) => {
            assert_eq!(env.payload.len(), 100 * 1024);
            assert!(size > limit && limit == 64 * 1024, "{size} {limit}");
        }
        other => panic!("{other:?}"),
    }
    // Before and after it, the small ones arrive: the stream survived.
    for n in [1u32, 2] {
        let (_, env) = bounded(b.delivered.recv()).await.unwrap();
        assert_eq!(&env.payload[..], &n.to_be_bytes());
    }
    // Many envelopes near the limit are split across frames, none lost.
    for n in 0..40u32 {
        let mut payload = vec![0u8; 20 * 1024];
        payload[..4].copy_from_slice(&n.to_be_bytes());
        a.endpoint.send(
            &to_b,
            Envelope::new(pid(1), Kind::Tell, "Blob::put", payload),
        );
    }
    for n in 0..40u32 {
        let (_, env) = bounded(b.delivered.recv()).await.unwrap();
        assert_eq!(&env.payload[..4], &n.to_be_bytes());
    }
    bounded(a.endpoint.shutdown()).await;
    bounded(b.endpoint.shutdown()).await;
}

/// An address nobody listens on.
fn closed_address() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string()
}

/// An endpoint holding at most `max_queued` envelopes per peer, reporting a peer down
/// after `down_after`; and what it hands back.
async fn queueing_node(
    max_queued: usize,
    down_after: Duration,
) -> (Endpoint, mpsc::UnboundedReceiver<(Envelope, SendError)>) {
    let (delivered, _) = mpsc::unbounded_channel();
    let (refused, handed_back) = mpsc::unbounded_channel();
    let mut config = EndpointConfig::new("127.0.0.1:0".parse().unwrap(), Secret::new(*b"s"));
    config.max_queued = max_queued;
    config.down_after = down_after;
    let a = Endpoint::bind(config, Probe { delivered, refused })
        .await
        .unwrap();
    (a, handed_back)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_queue_is_bounded() {
    let (a, mut refused) = queueing_node(100, Duration::from_secs(1)).await;
    // Nobody listens there: everything waits in the queue while a dials again and again.
    let closed = closed_address();
    for n in 0..250 {
        a.send(&closed, tell(1, n));
    }
    // Beyond 100 queued, refused at once, with the message handed back.
    let mut overloaded = Vec::new();
    while let Ok((env, error)) = refused.try_recv() {
        match error {
            SendError::Overloaded { queued, .. } => assert!(queued >= 100),
            other => panic!("{other:?}"),
        }
        overloaded.push(env);
    }
    assert_eq!(overloaded.len(), 150);
    // The 100 queued come back when the peer is found down.
    for _ in 0..100 {
        let (_, error) = bounded(refused.recv()).await.unwrap();
        assert!(matches!(error, SendError::Unreachable { .. }), "{error:?}");
    }
    bounded(a.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_wait_waits_for_room_instead_of_refusing() {
    let (a, mut refused) = queueing_node(10, Duration::from_millis(800)).await;
    let closed = closed_address();
    let poll_once =
        |f: &mut std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>| {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            f.as_mut().poll(&mut cx).is_ready()
        };
    for n in 0..10 {
        let mut f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
            Box::pin(a.send_wait(&closed, tell(1, n)));
        assert!(poll_once(&mut f), "room for #{n}: done at once");
    }
    // The queue is full: the eleventh waits, where `send` would refuse.
    let mut eleventh: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        Box::pin(a.send_wait(&closed, tell(1, 10)));
    assert!(!poll_once(&mut eleventh), "waits for room");
    assert!(refused.try_recv().is_err(), "nothing refused yet");
    let start = tokio::time::Instant::now();
    bounded(eleventh).await;
    // Room came when the peer was found down and its queue handed back.
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    for _ in 0..10 {
        let (_, error) = bounded(refused.recv()).await.unwrap();
        assert!(matches!(error, SendError::Unreachable { .. }), "{error:?}");
    }
    // The eleventh went to the next dial of the peer, and comes back when it fails too.
    let (env, error) = bounded(refused.recv()).await.unwrap();
    assert_eq!(&env.payload[..], &10u32.to_be_bytes());
    assert!(matches!(error, SendError::Unreachable { .. }), "{error:?}");
    bounded(a.shutdown()).await;
}
