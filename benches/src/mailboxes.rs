//! The mailbox kinds side by side: 1,000,000 tells from one sender to one actor through
//! the bounded (default) and unbounded channels, the priority mailbox, and two custom
//! `Mailbox`es (a `Mutex<VecDeque>` bounded at 1,024, as a user would write it, and a
//! lock-free `crossbeam_queue::SegQueue` with the bound counted beside it), with a raw
//! tokio actor (an unbounded channel into a task) as the floor. Both runtime flavours,
//! interleaved trials, medians; the clock stops when the actor has handled them all, and
//! every sum is checked.
//!
//! `cargo run --release --bin mailboxes` (from `benches/`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bactor::mailbox::{Envelope, Mailbox, PriorityMailbox, Push};
use bactor::prelude::*;

mod shared;
use shared::median;

const TELLS: u64 = 1_000_000;
const TRIALS: usize = 7;

#[actor]
#[derive(Default)]
struct Sink {
    sum: u64,
}

#[actor]
impl Sink {
    #[handler]
    fn add(&mut self, n: u64) {
        self.sum = self.sum.wrapping_add(n);
    }

    #[handler]
    fn sum(&self) -> u64 {
        self.sum
    }
}

/// A bounded FIFO as a user would write one.
struct Fifo<M> {
    cap: usize,
    queue: Mutex<VecDeque<Envelope<M>>>,
}

impl<M: Send + 'static> Mailbox<M> for Fifo<M> {
    fn push(&self, envelope: Envelope<M>) -> Push<M> {
        let mut queue = self.queue.lock().unwrap();
        if queue.len() >= self.cap {
            return Push::Full(envelope);
        }
        queue.push_back(envelope);
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<M>> {
        self.queue.lock().unwrap().pop_front()
    }

    fn len(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
}

/// A lock-free segmented queue with the bound counted beside it.
struct Seg<M> {
    cap: usize,
    len: std::sync::atomic::AtomicUsize,
    queue: crossbeam_queue::SegQueue<Envelope<M>>,
}

impl<M: Send + 'static> Mailbox<M> for Seg<M> {
    fn push(&self, envelope: Envelope<M>) -> Push<M> {
        use std::sync::atomic::Ordering;
        if self.len.fetch_add(1, Ordering::Relaxed) >= self.cap {
            self.len.fetch_sub(1, Ordering::Relaxed);
            return Push::Full(envelope);
        }
        self.queue.push(envelope);
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<M>> {
        let e = self.queue.pop();
        if e.is_some() {
            self.len.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        e
    }

    fn len(&self) -> usize {
        self.len.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Tokio,
    Bounded,
    Unbounded,
    Priority,
    Custom,
    Seg,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Tokio,
        Kind::Bounded,
        Kind::Unbounded,
        Kind::Priority,
        Kind::Custom,
        Kind::Seg,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Tokio => "raw tokio (unbounded channel)",
            Kind::Bounded => "bounded 1,024 (default)",
            Kind::Unbounded => "unbounded",
            Kind::Priority => "priority, bounded 1,024",
            Kind::Custom => "custom `Mutex<VecDeque>`, bounded 1,024",
            Kind::Seg => "custom `SegQueue`, bounded 1,024",
        }
    }

    fn props(self) -> Props<Sink> {
        let props = Props::from_producer(Sink::default);
        match self {
            Kind::Tokio | Kind::Bounded => props.mailbox(MailboxConfig::Bounded(1024)),
            Kind::Unbounded => props.mailbox(MailboxConfig::Unbounded),
            Kind::Priority => {
                props.mailbox_with(|| PriorityMailbox::new(MailboxConfig::Bounded(1024)))
            }
            Kind::Custom => props.mailbox_with(|| Fifo {
                cap: 1024,
                queue: Mutex::new(VecDeque::new()),
            }),
            Kind::Seg => props.mailbox_with(|| Seg {
                cap: 1024,
                len: Default::default(),
                queue: crossbeam_queue::SegQueue::new(),
            }),
        }
    }
}

enum Raw {
    Add(u64),
    Sum(tokio::sync::oneshot::Sender<u64>),
}

async fn raw_tokio() -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut sum = 0u64;
        while let Some(msg) = rx.recv().await {
            match msg {
                Raw::Add(n) => sum = sum.wrapping_add(n),
                Raw::Sum(reply) => {
                    let _ = reply.send(sum);
                }
            }
        }
    });
    let start = Instant::now();
    for n in 0..TELLS {
        tx.send(Raw::Add(n)).unwrap();
    }
    let (reply, sum) = tokio::sync::oneshot::channel();
    tx.send(Raw::Sum(reply)).unwrap();
    assert_eq!(sum.await.unwrap(), (0..TELLS).sum::<u64>());
    start.elapsed()
}

async fn run(kind: Kind) -> Duration {
    if let Kind::Tokio = kind {
        return raw_tokio().await;
    }
    let system = ActorSystem::new();
    let sink = system.spawn_props(kind.props()).await.unwrap();
    let start = Instant::now();
    for n in 0..TELLS {
        sink.add(n).tell().await.unwrap();
    }
    assert_eq!(sink.sum().await.unwrap(), (0..TELLS).sum::<u64>());
    let d = start.elapsed();
    system.shutdown().await;
    d
}

fn main() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("{cpu}, {cores} cores; 1,000,000 tells, one sender, median of {TRIALS} trials\n");
    type MakeRuntime = fn() -> tokio::runtime::Runtime;
    let flavours: [(&str, MakeRuntime); 2] = [
        ("current_thread", || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        }),
        ("multi_thread (2 workers)", || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
        }),
    ];
    println!("| runtime | mailbox | per tell | ÷ raw tokio |");
    println!("|---|---|---|---|");
    for (flavour, make) in flavours {
        let rt = make();
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); Kind::ALL.len()];
        for _ in 0..TRIALS {
            for (i, kind) in Kind::ALL.into_iter().enumerate() {
                times[i].push(rt.block_on(run(kind)));
            }
        }
        let ns = |d: Duration| d.as_nanos() as f64 / TELLS as f64;
        let floor = ns(median(times[0].clone()));
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let m = ns(median(times[i].clone()));
            // Throughput ratio: above 1 is faster than the floor.
            println!(
                "| {flavour} | {} | {m:.1} ns | {:.2}× |",
                kind.name(),
                floor / m
            );
        }
    }
}
