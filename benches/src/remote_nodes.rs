//! Remote actors over loopback, two nodes in two processes, against a hand-written tonic
//! baseline measured in the same run (trials interleaved).
//!
//! The parent process is the sending node; it starts the receiving node as a child
//! process (this binary with `--serve baseline|bactor`) for every trial.
//!
//! - **baseline**: one bidirectional tonic stream (`bactor.remote.v1`'s service, used raw:
//!   no handshake, no tables, no actors). Sends are queued one by one on an unbounded
//!   channel and drained by a writer task into batches of whatever is pending, at most
//!   1,000 prost envelopes with postcard payloads; the receiver decodes each payload and
//!   sums. Asks: an envelope with a correlation id, answered by the receiver on the
//!   response stream, matched to a `oneshot` by the sender.
//! - **bactor**: two `Node`s; the receiver hosts a `#[actor(remote)]` `Sink`; the sender
//!   calls `sink.add(n).tell().await` (tells), `sink.echo(n).await` (asks) on a `SinkRef`.
//!
//! Tells: 1,000,000 `u64`s one way; the clock runs from the first send until the receiver
//! has counted the last (for bactor, an ask for the count, which follows the tells on the
//! same stream and in the same mailbox). Asks: 20,000 with one in flight, then 64 tasks of
//! 1,000 each (64 in flight); per-ask latencies, p50 and p99.
//!
//! `cargo run --release --bin remote_nodes` (from `benches/`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bactor::prelude::*;
use bactor::remote::NodeBuilder;
use bactor_remote::proto::frame::Body;
use bactor_remote::proto::remoting_client::RemotingClient;
use bactor_remote::proto::remoting_server::{Remoting, RemotingServer};
use bactor_remote::proto::{self, Frame};
use tokio::sync::{mpsc, oneshot};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

const TELLS: u64 = 1_000_000;
const ASKS_ONE: usize = 20_000;
const ASK_TASKS: usize = 64;
const ASKS_PER_TASK: usize = 1_000;
const TRIALS: usize = 3;
const LIMIT: usize = 4 * 1024 * 1024;
const SECRET: &str = "bench";

// ---------------------------------------------------------------- the bactor side

#[actor]
#[derive(Default)]
struct Sink {
    count: u64,
    sum: u64,
}

#[actor(remote)]
impl Sink {
    #[handler]
    fn add(&mut self, n: u64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(n);
    }

    #[handler]
    fn count(&self) -> u64 {
        self.count
    }

    #[handler]
    fn echo(&self, n: u64) -> u64 {
        n
    }
}

async fn serve_bactor() {
    let node = NodeBuilder::new("127.0.0.1:0".parse().unwrap(), SECRET)
        .start()
        .await
        .unwrap();
    node.spawn_named("sink", Sink::default).await.unwrap();
    println!("{}", node.address());
    std::io::stdout().flush().unwrap();
    std::future::pending::<()>().await;
}

async fn bactor_tells(address: &str) -> Duration {
    let node = NodeBuilder::new("127.0.0.1:0".parse().unwrap(), SECRET)
        .start()
        .await
        .unwrap();
    let sink = node.lookup_remote::<Sink>(address, "sink").await.unwrap();
    assert_eq!(sink.count().await.unwrap(), 0);
    let start = Instant::now();
    for n in 0..TELLS {
        sink.add(n).tell().await.unwrap();
    }
    assert_eq!(sink.count().await.unwrap(), TELLS);
    let elapsed = start.elapsed();
    node.shutdown().await;
    elapsed
}

async fn bactor_asks(address: &str) -> (Vec<Duration>, Vec<Duration>) {
    let node = NodeBuilder::new("127.0.0.1:0".parse().unwrap(), SECRET)
        .start()
        .await
        .unwrap();
    let sink = node.lookup_remote::<Sink>(address, "sink").await.unwrap();
    let mut one = Vec::with_capacity(ASKS_ONE);
    for n in 0..ASKS_ONE as u64 {
        let t = Instant::now();
        assert_eq!(sink.echo(n).await.unwrap(), n);
        one.push(t.elapsed());
    }
    let tasks: Vec<_> = (0..ASK_TASKS)
        .map(|_| {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(ASKS_PER_TASK);
                for n in 0..ASKS_PER_TASK as u64 {
                    let t = Instant::now();
                    assert_eq!(sink.echo(n).await.unwrap(), n);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut many = Vec::new();
    for t in tasks {
        many.extend(t.await.unwrap());
    }
    node.shutdown().await;
    (one, many)
}

// ---------------------------------------------------------------- the baseline

/// The receiver: sums tell payloads, answers asks with their payload, and reports the
/// tell count on request (an envelope with `kind` = 2).
struct Baseline;

#[tonic::async_trait]
impl Remoting for Baseline {
    type OpenStream = Pin<Box<dyn Stream<Item = Result<Frame, Status>> + Send>>;

    async fn open(
        &self,
        request: Request<Streaming<Frame>>,
    ) -> Result<Response<Self::OpenStream>, Status> {
        let mut frames = request.into_inner();
        let (out, rx) = mpsc::channel::<Result<Frame, Status>>(16);
        tokio::spawn(async move {
            let (mut count, mut sum) = (0u64, 0u64);
            while let Some(Ok(frame)) = frames.next().await {
                let Some(Body::Batch(b)) = frame.body else {
                    continue;
                };
                let mut replies = Vec::new();
                for e in b.envelopes {
                    let n: u64 = postcard::from_bytes(&e.payload).unwrap();
                    match e.kind {
                        0 => {
                            count += 1;
                            sum = sum.wrapping_add(n);
                        }
                        _ => {
                            let value = if e.kind == 2 { count } else { n };
                            replies.push(proto::Envelope {
                                target: 0,
                                sender: 0,
                                kind: 2,
                                method: 0,
                                payload: postcard::to_stdvec(&value).unwrap().into(),
                                correlation: e.correlation,
                                headers: Vec::new(),
                            });
                        }
                    }
                }
                if !replies.is_empty() {
                    let batch = proto::Batch {
                        pids: vec![],
                        names: vec![],
                        envelopes: replies,
                        packed: Default::default(),
                    };
                    let frame = Frame {
                        body: Some(Body::Batch(batch)),
                    };
                    if out.send(Ok(frame)).await.is_err() {
                        break;
                    }
                }
            }
            let _ = sum;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn serve_baseline() {
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    println!("{}", incoming.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    let service = RemotingServer::new(Baseline)
        .max_decoding_message_size(LIMIT)
        .max_encoding_message_size(LIMIT);
    tonic::transport::Server::builder()
        .serve_with_incoming(service, incoming.with_nodelay(Some(true)))
        .await
        .unwrap();
}

/// The sender side of the baseline: a queue drained into batches of ≤ 1,000, and the
/// asks waiting for their replies.
struct Client {
    queue: mpsc::UnboundedSender<proto::Envelope>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<u64>>>>,
    next: AtomicU64,
}

impl Client {
    async fn connect(address: &str) -> Arc<Client> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
        let mut client = RemotingClient::new(channel)
            .max_decoding_message_size(LIMIT)
            .max_encoding_message_size(LIMIT);
        let (frames, frames_rx) = mpsc::channel::<Frame>(16);
        let mut replies = client
            .open(ReceiverStream::new(frames_rx))
            .await
            .unwrap()
            .into_inner();
        let (queue, mut queue_rx) = mpsc::unbounded_channel::<proto::Envelope>();
        tokio::spawn(async move {
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
                    names: vec!["Sink::add".into()],
                    envelopes: std::mem::replace(&mut batch, Vec::with_capacity(1000)),
                    packed: Default::default(),
                };
                let frame = Frame {
                    body: Some(Body::Batch(b)),
                };
                if frames.send(frame).await.is_err() {
                    return;
                }
            }
        });
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<u64>>>> = Arc::default();
        let waiting = Arc::clone(&pending);
        tokio::spawn(async move {
            while let Some(Ok(frame)) = replies.next().await {
                if let Some(Body::Batch(b)) = frame.body {
                    for e in b.envelopes {
                        let value: u64 = postcard::from_bytes(&e.payload).unwrap();
                        if let Some(tx) = waiting.lock().unwrap().remove(&e.correlation) {
                            let _ = tx.send(value);
                        }
                    }
                }
            }
        });
        Arc::new(Client {
            queue,
            pending,
            next: AtomicU64::new(1),
        })
    }

    fn tell(&self, n: u64) {
        let _ = self.queue.send(envelope(0, n, 0));
    }

    async fn ask(&self, kind: i32, n: u64) -> u64 {
        let correlation = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(correlation, tx);
        let _ = self.queue.send(envelope(kind, n, correlation));
        rx.await.unwrap()
    }
}

fn envelope(kind: i32, n: u64, correlation: u64) -> proto::Envelope {
    proto::Envelope {
        target: 0,
        sender: 0,
        kind,
        method: 0,
        payload: postcard::to_stdvec(&n).unwrap().into(),
        correlation,
        headers: Vec::new(),
    }
}

async fn baseline_tells(address: &str) -> Duration {
    let client = Client::connect(address).await;
    assert_eq!(client.ask(2, 0).await, 0);
    let start = Instant::now();
    for n in 0..TELLS {
        client.tell(n);
    }
    assert_eq!(client.ask(2, 0).await, TELLS);
    start.elapsed()
}

async fn baseline_asks(address: &str) -> (Vec<Duration>, Vec<Duration>) {
    let client = Client::connect(address).await;
    let mut one = Vec::with_capacity(ASKS_ONE);
    for n in 0..ASKS_ONE as u64 {
        let t = Instant::now();
        assert_eq!(client.ask(1, n).await, n);
        one.push(t.elapsed());
    }
    let tasks: Vec<_> = (0..ASK_TASKS)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(ASKS_PER_TASK);
                for n in 0..ASKS_PER_TASK as u64 {
                    let t = Instant::now();
                    assert_eq!(client.ask(1, n).await, n);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut many = Vec::new();
    for t in tasks {
        many.extend(t.await.unwrap());
    }
    (one, many)
}

// ---------------------------------------------------------------- the harness

/// The receiving node, in a child process; killed on drop.
struct Server(Child, String);

impl Server {
    fn start(kind: &str) -> Server {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", kind])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Server(child, line.trim().to_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        match args.get(2).map(String::as_str) {
            Some("baseline") => rt.block_on(serve_baseline()),
            Some("bactor") => rt.block_on(serve_bactor()),
            other => panic!("--serve baseline|bactor, not {other:?}"),
        }
        return;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("bactor-tells") {
        // For profiling: bactor's tells alone.
        for _ in 0..TRIALS {
            let s = Server::start("bactor");
            let d = rt.block_on(bactor_tells(&s.1));
            println!("{:.2} M msgs/s", TELLS as f64 / d.as_secs_f64() / 1e6);
        }
        return;
    }
    let (mut base, mut ours) = (Vec::new(), Vec::new());
    let (mut base_one, mut base_many, mut ours_one, mut ours_many) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..TRIALS {
        let s = Server::start("baseline");
        base.push(rt.block_on(baseline_tells(&s.1)));
        drop(s);
        let s = Server::start("bactor");
        ours.push(rt.block_on(bactor_tells(&s.1)));
        drop(s);
        let s = Server::start("baseline");
        let (one, many) = rt.block_on(baseline_asks(&s.1));
        base_one.extend(one);
        base_many.extend(many);
        drop(s);
        let s = Server::start("bactor");
        let (one, many) = rt.block_on(bactor_asks(&s.1));
        ours_one.extend(one);
        ours_many.extend(many);
        drop(s);
    }
    let rate = |d: Duration| TELLS as f64 / d.as_secs_f64() / 1e6;
    let (b, o) = (median(base), median(ours));
    println!("| scenario | baseline: tonic stream, batches of ≤ 1,000 | bactor | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| tell, 1,000,000 u64, two processes, loopback | {:.2} M msgs/s | {:.2} M msgs/s | {:.2}x |",
        rate(b),
        rate(o),
        rate(o) / rate(b)
    );
    for (what, base, ours) in [
        ("ask, 1 in flight", &mut base_one, &mut ours_one),
        ("ask, 64 in flight", &mut base_many, &mut ours_many),
    ] {
        let (b50, b99) = (percentile(base, 0.5), percentile(base, 0.99));
        let (o50, o99) = (percentile(ours, 0.5), percentile(ours, 0.99));
        println!(
            "| {what}: p50 / p99 | {:.0} / {:.0} µs | {:.0} / {:.0} µs | {:.2}x / {:.2}x |",
            us(b50),
            us(b99),
            us(o50),
            us(o99),
            us(o50) / us(b50),
            us(o99) / us(b99)
        );
    }
}
