//! bactor side by side with raw tokio and the Rust peers (kameo 0.22, ractor 0.16, actix
//! 0.13, xtra 0.6), each written the way its docs show.
//!
//! `cargo run --release --bin peers` (from `benches/`) runs every cell: each measurement in
//! a fresh process (this binary with `--one <contender> <scenario> <flavour>`), contenders
//! interleaved over the repeats, every count asserted (a wrong count fails the run). It
//! prints medians with min–max and the ratio to raw tokio measured in the same run.
//! `--repeats N` (default 5) and scenario names (`tell ask spawn fanin pingpong`) narrow
//! it down.
//!
//! Scenarios:
//! - **tell**: one sender, 1,000,000 `u64`s to one actor that sums them; the clock stops
//!   when the sum has been read back (an ask behind the tells).
//! - **ask**: 100,000 sequential asks (add a number, reply with the running sum); mean,
//!   p50 and p99 of the round trips.
//! - **spawn**: 100,000 idle actors; µs per spawn until every one has started (each bumps
//!   a counter from its start hook), resident memory per actor (RSS after, less RSS
//!   before, over 100,000), µs per stop until every one has stopped.
//! - **fanin**: 8 sender tasks × 125,000 tells to one actor.
//! - **pingpong**: two actors hand a counter back and forth, 200,000 hops.
//!
//! Raw tokio is an `mpsc::unbounded_channel` into a spawned task, an enum message and a
//! `oneshot` per ask. Actors use each framework's default mailbox. actix runs on its own
//! single-threaded runtime (`actix::System`) in every cell: its rows in the multi-thread
//! cells say so.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TELLS: u64 = 1_000_000;
const ASKS: u64 = 100_000;
const SPAWNS: usize = 100_000;
const FAN_SENDERS: u64 = 8;
const FAN_EACH: u64 = 125_000;
const HOPS: u64 = 200_000;

static STARTED: AtomicUsize = AtomicUsize::new(0);
static STOPPED: AtomicUsize = AtomicUsize::new(0);

/// What one measurement reports, one `key=value` per line on stdout.
#[derive(Default)]
struct Report(Vec<(&'static str, f64)>);

impl Report {
    fn put(&mut self, key: &'static str, value: f64) {
        self.0.push((key, value));
    }
}

fn sum_to(n: u64) -> u64 {
    n * (n - 1) / 2
}

fn rss_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096.0
}

/// Waits until `counter` reaches `n` (sleeping between looks, so the actors get the CPU).
async fn wait_for(counter: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while counter.load(Ordering::Acquire) < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} in 120 s",
            counter.load(Ordering::Acquire)
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

fn ask_stats(report: &mut Report, mut lat: Vec<Duration>) {
    let n = lat.len() as f64;
    let mean = lat.iter().map(Duration::as_nanos).sum::<u128>() as f64 / n;
    lat.sort();
    report.put("mean_ns", mean);
    report.put("p50_ns", lat[lat.len() / 2].as_nanos() as f64);
    report.put("p99_ns", lat[lat.len() * 99 / 100].as_nanos() as f64);
}

/// The spawn scenario around one contender's `spawn` (returns a keep-alive), `stop_all`.
async fn spawn_scenario<K>(
    report: &mut Report,
    spawn: impl AsyncFnMut() -> K,
    stop_all: impl AsyncFnOnce(Vec<K>),
) {
    let mut spawn = spawn;
    let before = rss_bytes();
    let start = Instant::now();
    let mut keep = Vec::with_capacity(SPAWNS);
    for _ in 0..SPAWNS {
        keep.push(spawn().await);
    }
    wait_for(&STARTED, SPAWNS).await;
    let spawned = start.elapsed();
    // Let everything settle (tasks parked, first polls done) before reading memory.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = rss_bytes();
    report.put("spawn_us", spawned.as_secs_f64() * 1e6 / SPAWNS as f64);
    report.put("rss_bytes", (after - before) / SPAWNS as f64);
    let start = Instant::now();
    stop_all(keep).await;
    wait_for(&STOPPED, SPAWNS).await;
    report.put(
        "stop_us",
        start.elapsed().as_secs_f64() * 1e6 / SPAWNS as f64,
    );
}

mod raw {
    //! Raw tokio: an unbounded channel into a spawned task.
    use super::*;
    use tokio::sync::{mpsc, oneshot};

    enum Msg {
        Add(u64),
        Sum(oneshot::Sender<u64>),
    }

    fn sink() -> mpsc::UnboundedSender<Msg> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut sum = 0u64;
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Add(n) => sum += n,
                    Msg::Sum(reply) => {
                        let _ = reply.send(sum);
                    }
                }
            }
        });
        tx
    }

    async fn sum(tx: &mpsc::UnboundedSender<Msg>) -> u64 {
        let (reply, rx) = oneshot::channel();
        tx.send(Msg::Sum(reply)).unwrap();
        rx.await.unwrap()
    }

    pub async fn run(scenario: &str, report: &mut Report) {
        match scenario {
            "tell" => {
                let tx = sink();
                let start = Instant::now();
                for n in 0..TELLS {
                    tx.send(Msg::Add(n)).unwrap();
                }
                assert_eq!(sum(&tx).await, sum_to(TELLS));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "ask" => {
                let tx = sink();
                let mut lat = Vec::with_capacity(ASKS as usize);
                for n in 0..ASKS {
                    let t = Instant::now();
                    tx.send(Msg::Add(n)).unwrap();
                    let _ = sum(&tx).await;
                    lat.push(t.elapsed());
                }
                assert_eq!(sum(&tx).await, sum_to(ASKS));
                ask_stats(report, lat);
            }
            "fanin" => {
                let tx = sink();
                let start = Instant::now();
                let senders: Vec<_> = (0..FAN_SENDERS)
                    .map(|_| {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            for n in 0..FAN_EACH {
                                tx.send(Msg::Add(n)).unwrap();
                            }
                        })
                    })
                    .collect();
                for s in senders {
                    s.await.unwrap();
                }
                assert_eq!(sum(&tx).await, FAN_SENDERS * sum_to(FAN_EACH));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "pingpong" => {
                let (a_tx, mut a_rx) = mpsc::unbounded_channel::<u64>();
                let (b_tx, mut b_rx) = mpsc::unbounded_channel::<u64>();
                let (done, finished) = oneshot::channel();
                let to_a = a_tx.clone();
                tokio::spawn(async move {
                    while let Some(n) = b_rx.recv().await {
                        let _ = to_a.send(n + 1);
                    }
                });
                tokio::spawn(async move {
                    let mut done = Some(done);
                    while let Some(n) = a_rx.recv().await {
                        if n >= HOPS {
                            let _ = done.take().unwrap().send(n);
                            return;
                        }
                        let _ = b_tx.send(n + 1);
                    }
                });
                let start = Instant::now();
                a_tx.send(0).unwrap();
                assert_eq!(finished.await.unwrap(), HOPS);
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "spawn" => {
                spawn_scenario(
                    report,
                    async || {
                        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
                        tokio::spawn(async move {
                            STARTED.fetch_add(1, Ordering::Release);
                            while rx.recv().await.is_some() {}
                            STOPPED.fetch_add(1, Ordering::Release);
                        });
                        tx
                    },
                    async |keep| drop(keep),
                )
                .await;
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

mod ours {
    //! bactor, through the typed refs `#[actor]` generates.
    use super::*;
    use bactor::prelude::*;
    use tokio::sync::oneshot;

    #[actor]
    #[derive(Default)]
    struct Sink {
        sum: u64,
    }

    #[actor]
    impl Sink {
        #[handler]
        fn add(&mut self, n: u64) -> u64 {
            self.sum += n;
            self.sum
        }

        #[handler]
        fn sum(&self) -> u64 {
            self.sum
        }
    }

    #[actor]
    #[derive(Default)]
    struct Player {
        peer: Option<PlayerRef>,
        done: Option<oneshot::Sender<u64>>,
    }

    #[actor]
    impl Player {
        #[handler]
        fn setup(&mut self, peer: PlayerRef, done: Option<oneshot::Sender<u64>>) {
            self.peer = Some(peer);
            self.done = done;
        }

        #[handler]
        async fn ball(&mut self, n: u64) {
            if n >= HOPS
                && let Some(done) = self.done.take()
            {
                let _ = done.send(n);
                return;
            }
            if let Some(peer) = &self.peer {
                peer.ball(n + 1).tell().await.unwrap();
            }
        }
    }

    #[actor]
    #[derive(Default)]
    struct Idle;

    #[actor]
    impl Idle {
        fn pre_start(&mut self) {
            STARTED.fetch_add(1, Ordering::Release);
        }

        fn post_stop(&mut self) {
            STOPPED.fetch_add(1, Ordering::Release);
        }

        #[handler]
        fn noop(&self) {}
    }

    pub async fn run(scenario: &str, report: &mut Report) {
        let system = ActorSystem::new();
        match scenario {
            "tell" => {
                let sink = system.spawn(Sink::default).await.unwrap();
                let start = Instant::now();
                for n in 0..TELLS {
                    sink.add(n).tell().await.unwrap();
                }
                assert_eq!(sink.sum().await.unwrap(), sum_to(TELLS));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "ask" => {
                let sink = system.spawn(Sink::default).await.unwrap();
                let mut lat = Vec::with_capacity(ASKS as usize);
                for n in 0..ASKS {
                    let t = Instant::now();
                    let _ = sink.add(n).await.unwrap();
                    lat.push(t.elapsed());
                }
                assert_eq!(sink.sum().await.unwrap(), sum_to(ASKS));
                ask_stats(report, lat);
            }
            "fanin" => {
                let sink = system.spawn(Sink::default).await.unwrap();
                let start = Instant::now();
                let senders: Vec<_> = (0..FAN_SENDERS)
                    .map(|_| {
                        let sink = sink.clone();
                        tokio::spawn(async move {
                            for n in 0..FAN_EACH {
                                sink.add(n).tell().await.unwrap();
                            }
                        })
                    })
                    .collect();
                for s in senders {
                    s.await.unwrap();
                }
                assert_eq!(sink.sum().await.unwrap(), FAN_SENDERS * sum_to(FAN_EACH));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "pingpong" => {
                let a = system.spawn(Player::default).await.unwrap();
                let b = system.spawn(Player::default).await.unwrap();
                let (done, finished) = oneshot::channel();
                a.setup(b.clone(), Some(done)).await.unwrap();
                b.setup(a.clone(), None).await.unwrap();
                let start = Instant::now();
                a.ball(0).tell().await.unwrap();
                assert_eq!(finished.await.unwrap(), HOPS);
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "spawn" => {
                spawn_scenario(
                    report,
                    async || system.spawn(Idle::default).await.unwrap(),
                    async |keep: Vec<IdleRef>| {
                        for r in &keep {
                            r.stop();
                        }
                    },
                )
                .await;
            }
            other => panic!("unknown scenario {other}"),
        }
        system.shutdown().await;
    }
}

mod kameo_side {
    //! kameo 0.22: `#[derive(Actor)]`, `impl Message<T>`, `tell(..).await` / `ask(..).await`.
    use super::*;
    use kameo::Actor;
    use kameo::actor::{ActorRef, Spawn, WeakActorRef};
    use kameo::error::{ActorStopReason, Infallible};
    use kameo::message::{Context, Message};
    use tokio::sync::oneshot;

    #[derive(Actor, Default)]
    struct Sink {
        sum: u64,
    }

    struct Add(u64);
    struct Sum;

    impl Message<Add> for Sink {
        type Reply = u64;
        async fn handle(&mut self, msg: Add, _: &mut Context<Self, Self::Reply>) -> u64 {
            self.sum += msg.0;
            self.sum
        }
    }

    impl Message<Sum> for Sink {
        type Reply = u64;
        async fn handle(&mut self, _: Sum, _: &mut Context<Self, Self::Reply>) -> u64 {
            self.sum
        }
    }

    #[derive(Actor, Default)]
    struct Player {
        peer: Option<ActorRef<Player>>,
        done: Option<oneshot::Sender<u64>>,
    }

    struct Setup(ActorRef<Player>, Option<oneshot::Sender<u64>>);
    struct Ball(u64);

    impl Message<Setup> for Player {
        type Reply = ();
        async fn handle(&mut self, msg: Setup, _: &mut Context<Self, Self::Reply>) {
            self.peer = Some(msg.0);
            self.done = msg.1;
        }
    }

    impl Message<Ball> for Player {
        type Reply = ();
        async fn handle(&mut self, Ball(n): Ball, _: &mut Context<Self, Self::Reply>) {
            if n >= HOPS
                && let Some(done) = self.done.take()
            {
                let _ = done.send(n);
                return;
            }
            if let Some(peer) = &self.peer {
                peer.tell(Ball(n + 1)).await.unwrap();
            }
        }
    }

    struct Idle;

    impl kameo::actor::Actor for Idle {
        type Args = Self;
        type Error = Infallible;

        async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, Self::Error> {
            STARTED.fetch_add(1, Ordering::Release);
            Ok(state)
        }

        async fn on_stop(
            &mut self,
            _: WeakActorRef<Self>,
            _: ActorStopReason,
        ) -> Result<(), Self::Error> {
            STOPPED.fetch_add(1, Ordering::Release);
            Ok(())
        }
    }

    pub async fn run(scenario: &str, report: &mut Report) {
        match scenario {
            "tell" => {
                let sink = Sink::spawn(Sink::default());
                let start = Instant::now();
                for n in 0..TELLS {
                    sink.tell(Add(n)).await.unwrap();
                }
                assert_eq!(sink.ask(Sum).await.unwrap(), sum_to(TELLS));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "ask" => {
                let sink = Sink::spawn(Sink::default());
                let mut lat = Vec::with_capacity(ASKS as usize);
                for n in 0..ASKS {
                    let t = Instant::now();
                    let _ = sink.ask(Add(n)).await.unwrap();
                    lat.push(t.elapsed());
                }
                assert_eq!(sink.ask(Sum).await.unwrap(), sum_to(ASKS));
                ask_stats(report, lat);
            }
            "fanin" => {
                let sink = Sink::spawn(Sink::default());
                let start = Instant::now();
                let senders: Vec<_> = (0..FAN_SENDERS)
                    .map(|_| {
                        let sink = sink.clone();
                        tokio::spawn(async move {
                            for n in 0..FAN_EACH {
                                sink.tell(Add(n)).await.unwrap();
                            }
                        })
                    })
                    .collect();
                for s in senders {
                    s.await.unwrap();
                }
                assert_eq!(sink.ask(Sum).await.unwrap(), FAN_SENDERS * sum_to(FAN_EACH));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "pingpong" => {
                let a = Player::spawn(Player::default());
                let b = Player::spawn(Player::default());
                let (done, finished) = oneshot::channel();
                a.ask(Setup(b.clone(), Some(done))).await.unwrap();
                b.ask(Setup(a.clone(), None)).await.unwrap();
                let start = Instant::now();
                a.tell(Ball(0)).await.unwrap();
                assert_eq!(finished.await.unwrap(), HOPS);
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "spawn" => {
                spawn_scenario(
                    report,
                    async || Idle::spawn(Idle),
                    async |keep: Vec<ActorRef<Idle>>| {
                        for r in &keep {
                            r.kill();
                        }
                    },
                )
                .await;
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

mod ractor_side {
    //! ractor 0.16: `impl Actor` with `Msg` / `State`, `cast` and `call`.
    use super::*;
    use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
    use tokio::sync::oneshot;

    enum SinkMsg {
        Add(u64),
        AddAndGet(u64, RpcReplyPort<u64>),
        Sum(RpcReplyPort<u64>),
    }

    struct Sink;

    impl Actor for Sink {
        type Msg = SinkMsg;
        type State = u64;
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<SinkMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
            Ok(0)
        }

        async fn handle(
            &self,
            _: ActorRef<SinkMsg>,
            msg: SinkMsg,
            sum: &mut u64,
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                SinkMsg::Add(n) => *sum += n,
                SinkMsg::AddAndGet(n, reply) => {
                    *sum += n;
                    let _ = reply.send(*sum);
                }
                SinkMsg::Sum(reply) => {
                    let _ = reply.send(*sum);
                }
            }
            Ok(())
        }
    }

    async fn sum(sink: &ActorRef<SinkMsg>) -> u64 {
        sink.call(SinkMsg::Sum, None).await.unwrap().unwrap()
    }

    enum Ball {
        Setup(ActorRef<Ball>, Option<oneshot::Sender<u64>>),
        Hop(u64),
    }

    struct Player;

    #[derive(Default)]
    struct PlayerState {
        peer: Option<ActorRef<Ball>>,
        done: Option<oneshot::Sender<u64>>,
    }

    impl Actor for Player {
        type Msg = Ball;
        type State = PlayerState;
        type Arguments = ();

        async fn pre_start(
            &self,
            _: ActorRef<Ball>,
            _: (),
        ) -> Result<PlayerState, ActorProcessingErr> {
            Ok(PlayerState::default())
        }

        async fn handle(
            &self,
            _: ActorRef<Ball>,
            msg: Ball,
            state: &mut PlayerState,
        ) -> Result<(), ActorProcessingErr> {
            match msg {
                Ball::Setup(peer, done) => {
                    state.peer = Some(peer);
                    state.done = done;
                }
                Ball::Hop(n) => {
                    if n >= HOPS
                        && let Some(done) = state.done.take()
                    {
                        let _ = done.send(n);
                        return Ok(());
                    }
                    if let Some(peer) = &state.peer {
                        peer.cast(Ball::Hop(n + 1))?;
                    }
                }
            }
            Ok(())
        }
    }

    struct Idle;

    impl Actor for Idle {
        type Msg = ();
        type State = ();
        type Arguments = ();

        async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
            STARTED.fetch_add(1, Ordering::Release);
            Ok(())
        }

        async fn post_stop(&self, _: ActorRef<()>, _: &mut ()) -> Result<(), ActorProcessingErr> {
            STOPPED.fetch_add(1, Ordering::Release);
            Ok(())
        }
    }

    pub async fn run(scenario: &str, report: &mut Report) {
        match scenario {
            "tell" => {
                let (sink, _h) = Actor::spawn(None, Sink, ()).await.unwrap();
                let start = Instant::now();
                for n in 0..TELLS {
                    sink.cast(SinkMsg::Add(n)).unwrap();
                }
                assert_eq!(sum(&sink).await, sum_to(TELLS));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "ask" => {
                let (sink, _h) = Actor::spawn(None, Sink, ()).await.unwrap();
                let mut lat = Vec::with_capacity(ASKS as usize);
                for n in 0..ASKS {
                    let t = Instant::now();
                    let _ = sink
                        .call(|r| SinkMsg::AddAndGet(n, r), None)
                        .await
                        .unwrap()
                        .unwrap();
                    lat.push(t.elapsed());
                }
                assert_eq!(sum(&sink).await, sum_to(ASKS));
                ask_stats(report, lat);
            }
            "fanin" => {
                let (sink, _h) = Actor::spawn(None, Sink, ()).await.unwrap();
                let start = Instant::now();
                let senders: Vec<_> = (0..FAN_SENDERS)
                    .map(|_| {
                        let sink = sink.clone();
                        tokio::spawn(async move {
                            for n in 0..FAN_EACH {
                                sink.cast(SinkMsg::Add(n)).unwrap();
                            }
                        })
                    })
                    .collect();
                for s in senders {
                    s.await.unwrap();
                }
                assert_eq!(sum(&sink).await, FAN_SENDERS * sum_to(FAN_EACH));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "pingpong" => {
                let (a, _ha) = Actor::spawn(None, Player, ()).await.unwrap();
                let (b, _hb) = Actor::spawn(None, Player, ()).await.unwrap();
                let (done, finished) = oneshot::channel();
                a.cast(Ball::Setup(b.clone(), Some(done))).unwrap();
                b.cast(Ball::Setup(a.clone(), None)).unwrap();
                let start = Instant::now();
                a.cast(Ball::Hop(0)).unwrap();
                assert_eq!(finished.await.unwrap(), HOPS);
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "spawn" => {
                spawn_scenario(
                    report,
                    async || Actor::spawn(None, Idle, ()).await.unwrap(),
                    async |keep: Vec<(ActorRef<()>, _)>| {
                        for (r, _) in &keep {
                            r.stop(None);
                        }
                    },
                )
                .await;
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

mod xtra_side {
    //! xtra 0.6: `impl Handler<T>`, `send(..).detach()` for tells, `send(..)` for asks.
    use super::*;
    use tokio::sync::oneshot;
    use xtra::prelude::*;

    #[derive(Default, xtra::Actor)]
    struct Sink {
        sum: u64,
    }

    struct Add(u64);
    struct Sum;

    impl Handler<Add> for Sink {
        type Return = u64;
        async fn handle(&mut self, msg: Add, _: &mut Context<Self>) -> u64 {
            self.sum += msg.0;
            self.sum
        }
    }

    impl Handler<Sum> for Sink {
        type Return = u64;
        async fn handle(&mut self, _: Sum, _: &mut Context<Self>) -> u64 {
            self.sum
        }
    }

    #[derive(Default, xtra::Actor)]
    struct Player {
        peer: Option<Address<Player>>,
        done: Option<oneshot::Sender<u64>>,
    }

    struct Setup(Address<Player>, Option<oneshot::Sender<u64>>);
    struct Ball(u64);

    impl Handler<Setup> for Player {
        type Return = ();
        async fn handle(&mut self, msg: Setup, _: &mut Context<Self>) {
            self.peer = Some(msg.0);
            self.done = msg.1;
        }
    }

    impl Handler<Ball> for Player {
        type Return = ();
        async fn handle(&mut self, Ball(n): Ball, _: &mut Context<Self>) {
            if n >= HOPS
                && let Some(done) = self.done.take()
            {
                let _ = done.send(n);
                return;
            }
            if let Some(peer) = &self.peer {
                let _ = peer.send(Ball(n + 1)).detach().await;
            }
        }
    }

    struct Idle;

    impl xtra::Actor for Idle {
        type Stop = ();

        async fn started(&mut self, _: &Mailbox<Self>) -> Result<(), ()> {
            STARTED.fetch_add(1, Ordering::Release);
            Ok(())
        }

        async fn stopped(self) {
            STOPPED.fetch_add(1, Ordering::Release);
        }
    }

    /// A bounded mailbox like the others' defaults.
    fn mailbox<A: xtra::Actor>() -> (Address<A>, Mailbox<A>) {
        Mailbox::bounded(1024)
    }

    /// The sum, once it is `want`: xtra may serve an ask ahead of tells still waiting for
    /// room in a full bounded mailbox, so one ask behind the tells is not enough.
    async fn sum_when(sink: &Address<Sink>, want: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let sum = sink.send(Sum).await.unwrap();
            if sum == want || Instant::now() > deadline {
                return sum;
            }
            tokio::task::yield_now().await;
        }
    }

    pub async fn run(scenario: &str, report: &mut Report) {
        match scenario {
            "tell" => {
                let sink = xtra::spawn_tokio(Sink::default(), mailbox());
                let start = Instant::now();
                for n in 0..TELLS {
                    drop(sink.send(Add(n)).detach().await.unwrap());
                }
                assert_eq!(sum_when(&sink, sum_to(TELLS)).await, sum_to(TELLS));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "ask" => {
                let sink = xtra::spawn_tokio(Sink::default(), mailbox());
                let mut lat = Vec::with_capacity(ASKS as usize);
                for n in 0..ASKS {
                    let t = Instant::now();
                    let _ = sink.send(Add(n)).await.unwrap();
                    lat.push(t.elapsed());
                }
                assert_eq!(sink.send(Sum).await.unwrap(), sum_to(ASKS));
                ask_stats(report, lat);
            }
            "fanin" => {
                let sink = xtra::spawn_tokio(Sink::default(), mailbox());
                let start = Instant::now();
                let senders: Vec<_> = (0..FAN_SENDERS)
                    .map(|_| {
                        let sink = sink.clone();
                        tokio::spawn(async move {
                            for n in 0..FAN_EACH {
                                drop(sink.send(Add(n)).detach().await.unwrap());
                            }
                        })
                    })
                    .collect();
                for s in senders {
                    s.await.unwrap();
                }
                let want = FAN_SENDERS * sum_to(FAN_EACH);
                assert_eq!(sum_when(&sink, want).await, want);
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "pingpong" => {
                let a = xtra::spawn_tokio(Player::default(), mailbox());
                let b = xtra::spawn_tokio(Player::default(), mailbox());
                let (done, finished) = oneshot::channel();
                a.send(Setup(b.clone(), Some(done))).await.unwrap();
                b.send(Setup(a.clone(), None)).await.unwrap();
                let start = Instant::now();
                drop(a.send(Ball(0)).detach().await.unwrap());
                assert_eq!(finished.await.unwrap(), HOPS);
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "spawn" => {
                spawn_scenario(
                    report,
                    async || xtra::spawn_tokio(Idle, mailbox()),
                    // The last strong address dropped stops the actor.
                    async |keep: Vec<Address<Idle>>| drop(keep),
                )
                .await;
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

mod actix_side {
    //! actix 0.13 on its own single-threaded runtime: `do_send` for tells, `send` for asks.
    use super::*;
    use actix::prelude::*;
    use tokio::sync::oneshot;

    #[derive(Default)]
    struct Sink {
        sum: u64,
    }

    impl Actor for Sink {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "u64")]
    struct Add(u64);

    #[derive(Message)]
    #[rtype(result = "u64")]
    struct Sum;

    impl Handler<Add> for Sink {
        type Result = u64;
        fn handle(&mut self, msg: Add, _: &mut Context<Self>) -> u64 {
            self.sum += msg.0;
            self.sum
        }
    }

    impl Handler<Sum> for Sink {
        type Result = u64;
        fn handle(&mut self, _: Sum, _: &mut Context<Self>) -> u64 {
            self.sum
        }
    }

    #[derive(Default)]
    struct Player {
        peer: Option<Addr<Player>>,
        done: Option<oneshot::Sender<u64>>,
    }

    impl Actor for Player {
        type Context = Context<Self>;
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Setup(Addr<Player>, Option<oneshot::Sender<u64>>);

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Ball(u64);

    impl Handler<Setup> for Player {
        type Result = ();
        fn handle(&mut self, msg: Setup, _: &mut Context<Self>) {
            self.peer = Some(msg.0);
            self.done = msg.1;
        }
    }

    impl Handler<Ball> for Player {
        type Result = ();
        fn handle(&mut self, Ball(n): Ball, _: &mut Context<Self>) {
            if n >= HOPS
                && let Some(done) = self.done.take()
            {
                let _ = done.send(n);
                return;
            }
            if let Some(peer) = &self.peer {
                peer.do_send(Ball(n + 1));
            }
        }
    }

    struct Idle;

    impl Actor for Idle {
        type Context = Context<Self>;

        fn started(&mut self, _: &mut Context<Self>) {
            STARTED.fetch_add(1, Ordering::Release);
        }

        fn stopped(&mut self, _: &mut Context<Self>) {
            STOPPED.fetch_add(1, Ordering::Release);
        }
    }

    pub async fn run(scenario: &str, report: &mut Report) {
        match scenario {
            "tell" => {
                let sink = Sink::default().start();
                let start = Instant::now();
                for n in 0..TELLS {
                    sink.do_send(Add(n));
                }
                assert_eq!(sink.send(Sum).await.unwrap(), sum_to(TELLS));
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "ask" => {
                let sink = Sink::default().start();
                let mut lat = Vec::with_capacity(ASKS as usize);
                for n in 0..ASKS {
                    let t = Instant::now();
                    let _ = sink.send(Add(n)).await.unwrap();
                    lat.push(t.elapsed());
                }
                assert_eq!(sink.send(Sum).await.unwrap(), sum_to(ASKS));
                ask_stats(report, lat);
            }
            "fanin" => {
                let sink = Sink::default().start();
                let start = Instant::now();
                let senders: Vec<_> = (0..FAN_SENDERS)
                    .map(|_| {
                        let sink = sink.clone();
                        actix::spawn(async move {
                            for n in 0..FAN_EACH {
                                sink.do_send(Add(n));
                            }
                        })
                    })
                    .collect();
                for s in senders {
                    s.await.unwrap();
                }
                assert_eq!(
                    sink.send(Sum).await.unwrap(),
                    FAN_SENDERS * sum_to(FAN_EACH)
                );
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "pingpong" => {
                let a = Player::default().start();
                let b = Player::default().start();
                let (done, finished) = oneshot::channel();
                a.send(Setup(b.clone(), Some(done))).await.unwrap();
                b.send(Setup(a.clone(), None)).await.unwrap();
                let start = Instant::now();
                a.do_send(Ball(0));
                assert_eq!(finished.await.unwrap(), HOPS);
                report.put("secs", start.elapsed().as_secs_f64());
            }
            "spawn" => {
                spawn_scenario(
                    report,
                    async || Idle.start(),
                    // The last address dropped stops the actor.
                    async |keep: Vec<Addr<Idle>>| drop(keep),
                )
                .await;
            }
            other => panic!("unknown scenario {other}"),
        }
    }
}

const CONTENDERS: [&str; 6] = ["tokio", "bactor", "kameo", "ractor", "actix", "xtra"];
const FLAVOURS: [&str; 2] = ["multi", "current"];
const SCENARIOS: [&str; 5] = ["tell", "ask", "spawn", "fanin", "pingpong"];

fn runs_on_current_thread(scenario: &str) -> bool {
    matches!(scenario, "tell" | "ask" | "pingpong")
}

/// One measurement, in this process.
fn one(contender: &str, scenario: &str, flavour: &str) {
    let mut report = Report::default();
    if contender == "actix" {
        actix::System::new().block_on(actix_side::run(scenario, &mut report));
    } else {
        let rt = match flavour {
            "current" => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            _ => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        };
        rt.block_on(async {
            match contender {
                "tokio" => raw::run(scenario, &mut report).await,
                "bactor" => ours::run(scenario, &mut report).await,
                "kameo" => kameo_side::run(scenario, &mut report).await,
                "ractor" => ractor_side::run(scenario, &mut report).await,
                "xtra" => xtra_side::run(scenario, &mut report).await,
                other => panic!("unknown contender {other}"),
            }
        });
        // Idle actors of some peers outlive their refs for a while: do not wait for them.
        rt.shutdown_background();
    }
    for (k, v) in report.0 {
        println!("{k}={v}");
    }
}

/// The headline value of a cell and how to show it.
fn headline(scenario: &str) -> (&'static str, fn(f64) -> String) {
    match scenario {
        "tell" => ("secs", |s| format!("{:.2} M/s", TELLS as f64 / s / 1e6)),
        "fanin" => ("secs", |s| {
            format!("{:.2} M/s", (FAN_SENDERS * FAN_EACH) as f64 / s / 1e6)
        }),
        "pingpong" => ("secs", |s| format!("{:.2} M hops/s", HOPS as f64 / s / 1e6)),
        "ask" => ("mean_ns", |ns| format!("{ns:.0} ns")),
        _ => ("spawn_us", |us| format!("{us:.2} µs")),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        one(&args[1], &args[2], &args[3]);
        return;
    }
    let mut repeats = 5;
    let mut only: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--repeats" => repeats = it.next().and_then(|n| n.parse().ok()).expect("--repeats N"),
            s if SCENARIOS.contains(&s) => only.push(s.to_owned()),
            other => panic!("unknown argument {other}"),
        }
    }
    let exe = std::env::current_exe().unwrap();
    let cells: Vec<(&str, &str)> = SCENARIOS
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == *s))
        .flat_map(|s| {
            FLAVOURS
                .iter()
                .filter(move |f| **f == "multi" || runs_on_current_thread(s))
                .map(move |f| (*s, *f))
        })
        .collect();
    // (scenario, flavour, contender) -> key -> values
    let mut results: std::collections::BTreeMap<
        (usize, usize),
        std::collections::HashMap<&str, Vec<f64>>,
    > = Default::default();
    let started = Instant::now();
    for round in 0..repeats {
        for (ci, (scenario, flavour)) in cells.iter().enumerate() {
            // Rotate the order every round so no contender always runs first.
            for k in 0..CONTENDERS.len() {
                let pi = (k + round + ci) % CONTENDERS.len();
                let contender = CONTENDERS[pi];
                let out = Command::new(&exe)
                    .args(["--one", contender, scenario, flavour])
                    .output()
                    .expect("run a measurement");
                assert!(
                    out.status.success(),
                    "{contender} {scenario} {flavour} failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let entry = results.entry((ci, pi)).or_default();
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    let (k, v) = line.split_once('=').expect("key=value");
                    let key: &'static str = match k {
                        "secs" => "secs",
                        "mean_ns" => "mean_ns",
                        "p50_ns" => "p50_ns",
                        "p99_ns" => "p99_ns",
                        "spawn_us" => "spawn_us",
                        "rss_bytes" => "rss_bytes",
                        "stop_us" => "stop_us",
                        other => panic!("unknown key {other}"),
                    };
                    entry.entry(key).or_default().push(v.parse().unwrap());
                }
            }
        }
        eprintln!(
            "round {} of {repeats} done after {:.0?}",
            round + 1,
            started.elapsed()
        );
    }
    println!(
        "{} repeats, each in a fresh process; medians (min–max); ratio = raw tokio's median ÷ the contender's (higher is better; for memory, tokio's bytes ÷ the contender's)\n",
        repeats
    );
    for (ci, (scenario, flavour)) in cells.iter().enumerate() {
        let (key, show) = headline(scenario);
        let flavour_name = if *flavour == "multi" {
            "multi-thread, 2 workers"
        } else {
            "current-thread"
        };
        println!("### {scenario}, {flavour_name}\n");
        let extra: &[&str] = match *scenario {
            "ask" => &["p50_ns", "p99_ns"],
            "spawn" => &["rss_bytes", "stop_us"],
            _ => &[],
        };
        let mut header = format!("| contender | {key} |");
        for e in extra {
            header.push_str(&format!(" {e} |"));
        }
        header.push_str(" ratio to tokio |");
        println!("{header}");
        println!("{}", "|---".repeat(3 + extra.len()) + "|");
        let tokio_median = median(&mut results[&(ci, 0)][key].clone());
        for (pi, contender) in CONTENDERS.iter().enumerate() {
            let vals = &results[&(ci, pi)];
            let mut v = vals[key].clone();
            let m = median(&mut v);
            // Shown low to high as displayed (a shorter time is a higher throughput).
            let (lo, hi) = if key == "secs" {
                (v[v.len() - 1], v[0])
            } else {
                (v[0], v[v.len() - 1])
            };
            let note = if *contender == "actix" && *flavour == "multi" {
                " (own 1-thread runtime)"
            } else {
                ""
            };
            let mut row = format!(
                "| {contender}{note} | {} ({}–{}) |",
                show(m),
                show(lo),
                show(hi)
            );
            for e in extra {
                let mut v = vals[e].clone();
                let m = median(&mut v);
                row.push_str(&format!(" {m:.0} ({:.0}–{:.0}) |", v[0], v[v.len() - 1]));
            }
            // Times: tokio ÷ contender (throughput secs and latencies alike: lower is better).
            row.push_str(&format!(" {:.2}x |", tokio_median / m));
            println!("{row}");
        }
        if *scenario == "spawn" {
            let mut t = results[&(ci, 0)]["rss_bytes"].clone();
            let tm = median(&mut t);
            let mut b = results[&(ci, 1)]["rss_bytes"].clone();
            let bm = median(&mut b);
            println!("\nbactor RSS per idle actor {bm:.0} B, raw tokio {tm:.0} B");
        }
        println!();
    }
    eprintln!("all done in {:.0?}", started.elapsed());
}
