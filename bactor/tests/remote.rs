#![cfg(feature = "remote")]
//! Remote actors, three nodes in one process: spawn, tell, ask (plain and `Result`
//! replies), stop, watch, refs inside messages, error replies, node down.

mod common;

use std::time::Duration;

use bactor::prelude::*;
use bactor::remote::{Codec, Node, NodeBuilder, RemoteError};
use bactor::{RemoteFailure, SystemEvent};
use common::no_hang;
use tokio::sync::mpsc;

const SECRET: &str = "three nodes, one secret";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum BankError {
    Insufficient { balance: u64, wanted: u64 },
}

#[actor]
#[derive(Default)]
struct Account {
    balance: u64,
}

#[actor(remote)]
impl Account {
    #[handler]
    fn deposit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.balance
    }

    #[handler]
    fn withdraw(&mut self, amount: u64) -> Result<u64, BankError> {
        if amount > self.balance {
            return Err(BankError::Insufficient {
                balance: self.balance,
                wanted: amount,
            });
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    #[handler]
    fn balance(&self) -> u64 {
        self.balance
    }

    #[handler]
    fn echo(&self, bytes: Vec<u8>) -> usize {
        bytes.len()
    }

    #[handler]
    fn boom(&self) {
        panic!("remote boom");
    }

    #[handler]
    fn header(&self, ctx: &mut Context<Self>, key: String) -> Option<String> {
        ctx.headers().get(&key).map(str::to_owned)
    }

    #[handler]
    async fn nap(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

#[derive(Debug, Default)]
enum DoorState {
    #[default]
    Shut,
    Open,
}

/// Behaviours across nodes: `knock` is refused while shut, `enter` waits in the stash.
#[actor(state = state)]
#[derive(Default)]
struct Door {
    state: DoorState,
    entered: u32,
}

#[actor(remote)]
impl Door {
    #[handler]
    fn open(&mut self) {
        self.state = DoorState::Open;
    }

    #[handler(when = Open)]
    fn knock(&self) -> String {
        "come in".into()
    }

    #[handler(when = Open, otherwise = stash)]
    fn enter(&mut self) -> u32 {
        self.entered += 1;
        self.entered
    }
}

/// Lives on one node and uses a ref it was sent to reach an actor on another.
#[actor]
#[derive(Default)]
struct Relay;

#[actor(remote)]
impl Relay {
    #[handler]
    async fn deposit_via(&self, account: AccountRef, amount: u64) -> Result<u64, String> {
        account.deposit(amount).await.map_err(|e| e.to_string())
    }

    #[handler]
    fn home_of(&self, account: AccountRef) -> Pid {
        account.pid()
    }
}

/// Watches actors and reports what it hears.
#[actor]
struct Watcher {
    seen: mpsc::UnboundedSender<(Pid, String)>,
}

#[actor]
impl Watcher {
    #[handler]
    fn watch(&mut self, ctx: &mut Context<Self>, target: AccountRef) {
        ctx.watch(&target);
    }

    #[handler]
    fn unwatch(&mut self, ctx: &mut Context<Self>, target: AccountRef) {
        ctx.unwatch(&target);
    }

    fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {
        let _ = self.seen.send((pid, reason.to_string()));
    }
}

fn any_port() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A node that hosts every kind, with quick heartbeats so a lost node is found fast.
fn builder() -> NodeBuilder {
    common::quick_node(SECRET)
        .kind(Account::default)
        .kind(|| Relay)
        .kind(Door::default)
        .request_timeout(Duration::from_secs(10))
}

async fn node() -> Node {
    builder().start().await.unwrap()
}

async fn watcher(on: &Node) -> (WatcherRef, mpsc::UnboundedReceiver<(Pid, String)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let w = on
        .spawn(move || Watcher { seen: tx.clone() })
        .await
        .unwrap();
    (w, rx)
}

#[tokio::test]
async fn spawn_tell_and_ask_across_nodes() {
    let (a, b) = (node().await, node().await);
    let mut events = a.events().subscribe();
    let account: AccountRef = no_hang(a.spawn_remote::<Account>(b.address(), None))
        .await
        .unwrap();
    assert_ne!(account.pid().node(), a.node(), "the pid names B, not A");
    assert_eq!(account.pid().node(), b.node());
    assert!(account.is_alive());
    assert_eq!(no_hang(account.deposit(10)).await.unwrap(), 10);
    // Tells, then an ask behind them: order from one sender is kept.
    for _ in 0..100 {
        account.deposit(1).tell().await.unwrap();
    }
    account.deposit(1).try_tell().unwrap();
    assert_eq!(no_hang(account.balance()).await.unwrap(), 111);
    // The actor really runs on B.
    assert_eq!(b.actor_count(), 1);
    assert_eq!(a.actor_count(), 0);
    // A published the connection to B, with B's run.
    loop {
        if let Some(SystemEvent::NodeConnected {
            address,
            incarnation,
        }) = no_hang(events.recv()).await
        {
            assert_eq!(
                (address.as_str(), incarnation),
                (b.address(), b.incarnation())
            );
            break;
        }
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn result_replies_cross_as_typed_values() {
    let (a, b) = (node().await, node().await);
    let account = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    account.deposit(5).await.unwrap();
    assert_eq!(no_hang(account.withdraw(3)).await, Ok(2));
    assert_eq!(
        no_hang(account.withdraw(7)).await,
        Err(AskError::Handler(BankError::Insufficient {
            balance: 2,
            wanted: 7
        }))
    );
    // A panic on B fails the ask (as locally), and the supervisor restarts the actor.
    let _quiet = common::quiet_panics("remote boom");
    assert_eq!(no_hang(account.boom()).await, Err(AskError::Failed));
    assert_eq!(
        no_hang(account.balance()).await,
        Ok(0),
        "restarted: fresh state"
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// A rejection crosses the wire typed, naming the message and the state; a stashed ask
/// from another node is answered once the state serves it.
#[tokio::test]
async fn behaviours_across_nodes() {
    let (a, b) = (node().await, node().await);
    let door = no_hang(a.spawn_remote::<Door>(b.address(), None))
        .await
        .unwrap();
    assert_eq!(
        no_hang(door.knock()).await,
        Err(AskError::Rejected(bactor::Rejection::NotServed {
            message: "Door::knock",
            state: "Shut".into(),
        }))
    );
    // Queued for B by its first poll; the knock behind it on the same stream is refused
    // only after `enter` was stashed.
    let mut waiting = Box::pin(door.enter().into_future());
    assert!(common::poll_once(&mut waiting).is_pending());
    assert!(no_hang(door.knock()).await.is_err());
    no_hang(door.open()).await.unwrap();
    assert_eq!(no_hang(waiting).await, Ok(1));
    assert_eq!(no_hang(door.knock()).await.as_deref(), Ok("come in"));
    a.shutdown().await;
    b.shutdown().await;
}

/// A group router on A over actors on B: routed asks cross the wire and come back.
/// Headers cross the wire with their message (asks, tells, through a router on A over
/// actors on B); messages without headers arrive without.
#[tokio::test]
async fn headers_cross_nodes() {
    let (a, b) = (node().await, node().await);
    let account = no_hang(a.spawn_remote::<Account>(b.address(), None))
        .await
        .unwrap();
    let long = "é".repeat(5_000);
    let headers = Headers::new()
        .with("trace-id", "4bf92f35")
        .with("empty", "")
        .with("long", long.clone());
    let traced = account.with_headers(headers);
    assert_eq!(
        no_hang(traced.header("trace-id".into()))
            .await
            .unwrap()
            .as_deref(),
        Some("4bf92f35")
    );
    assert_eq!(
        no_hang(traced.header("empty".into()))
            .await
            .unwrap()
            .as_deref(),
        Some("")
    );
    assert_eq!(
        no_hang(traced.header("long".into())).await.unwrap(),
        Some(long)
    );
    assert_eq!(
        no_hang(account.header("trace-id".into())).await.unwrap(),
        None
    );
    // Mixed in one batch: each message keeps its own.
    let asks: Vec<_> = (0..50)
        .map(|i| {
            let r = if i % 2 == 0 {
                account.with_headers(Headers::new().with("n", i.to_string()))
            } else {
                account.clone()
            };
            async move { r.header("n".into()).await }
        })
        .collect();
    for (i, got) in no_hang(futures_join(asks)).await.into_iter().enumerate() {
        let want = (i % 2 == 0).then(|| i.to_string());
        assert_eq!(got.unwrap(), want);
    }
    let group = a
        .spawn_group(vec![account.clone()], bactor::router::RoundRobin)
        .await
        .unwrap();
    let routed = group.with_headers(Headers::new().with("trace-id", "via-router"));
    assert_eq!(
        no_hang(routed.header("trace-id".into()))
            .await
            .unwrap()
            .as_deref(),
        Some("via-router")
    );
    a.shutdown().await;
    b.shutdown().await;
}

/// Awaits every future, concurrently, in order.
async fn futures_join<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut fs: Vec<_> = fs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = fs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in fs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[tokio::test]
async fn a_router_over_remote_actors() {
    let (a, b) = (node().await, node().await);
    let mut accounts = Vec::new();
    for _ in 0..2 {
        accounts.push(
            no_hang(a.spawn_remote::<Account>(b.address(), None))
                .await
                .unwrap(),
        );
    }
    let group = a
        .spawn_group(accounts.clone(), bactor::router::RoundRobin)
        .await
        .unwrap();
    for _ in 0..6 {
        no_hang(group.deposit(1)).await.unwrap();
    }
    for account in &accounts {
        assert_eq!(
            no_hang(account.balance()).await.unwrap(),
            3,
            "round-robin across B"
        );
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_ref_sent_from_a_to_b_reaches_an_actor_on_c() {
    let (a, b, c) = (node().await, node().await, node().await);
    let account = a.spawn_remote::<Account>(c.address(), None).await.unwrap();
    let relay = a.spawn_remote::<Relay>(b.address(), None).await.unwrap();
    // B receives a ref to C's account inside the message and asks through it.
    assert_eq!(no_hang(relay.deposit_via(account.clone(), 7)).await, Ok(7));
    assert_eq!(
        no_hang(relay.home_of(account.clone())).await,
        Ok(account.pid())
    );
    assert_eq!(no_hang(account.balance()).await, Ok(7));
    // A ref to an actor local to A, sent to B, comes back to A.
    let local = a.spawn(Account::default).await.unwrap();
    assert_eq!(no_hang(relay.deposit_via(local.clone(), 3)).await, Ok(3));
    assert_eq!(local.balance().await, Ok(3));
    for n in [&a, &b, &c] {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn lookup_by_name_and_refusals() {
    let (a, b) = (node().await, node().await);
    let spawned = a
        .spawn_remote::<Account>(b.address(), Some("savings"))
        .await
        .unwrap();
    let found = no_hang(a.lookup_remote::<Account>(b.address(), "savings"))
        .await
        .unwrap();
    assert_eq!(found.pid(), spawned.pid());
    found.deposit(4).await.unwrap();
    assert_eq!(spawned.balance().await, Ok(4));
    // The name is taken on B.
    match a
        .spawn_remote::<Account>(b.address(), Some("savings"))
        .await
    {
        Err(RemoteError::Refused(why)) => assert!(why.contains("savings"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // No such name, or another kind under it.
    match a.lookup_remote::<Account>(b.address(), "nobody").await {
        Err(RemoteError::Refused(why)) => assert!(why.contains("nobody"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match a.lookup_remote::<Relay>(b.address(), "savings").await {
        Err(RemoteError::Refused(why)) => assert!(why.contains("kind"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A node that did not register the kind refuses to spawn it.
    let bare = NodeBuilder::new(any_port(), SECRET).start().await.unwrap();
    match no_hang(a.spawn_remote::<Account>(bare.address(), None)).await {
        Err(RemoteError::Refused(why)) => assert!(why.contains("Account"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    for n in [&a, &b, &bare] {
        n.shutdown().await;
    }
}

/// Spawned remotely with arguments: a branch name and a ref to an account elsewhere.
#[actor]
struct Teller {
    branch: String,
    account: AccountRef,
    served: u64,
}

#[actor(remote)]
impl Teller {
    #[handler]
    async fn pay_in(&mut self, amount: u64) -> Result<u64, String> {
        self.served += 1;
        self.account
            .deposit(amount)
            .await
            .map_err(|e| e.to_string())
    }

    #[handler]
    fn desk(&self) -> (String, u64) {
        (self.branch.clone(), self.served)
    }

    #[handler]
    fn trip(&self) {
        panic!("the teller tripped");
    }
}

#[tokio::test]
async fn a_kind_spawned_with_arguments_gets_them_and_keeps_them_across_restarts() {
    let a = node().await;
    let b = builder()
        .kind_with(|(branch, account): (String, AccountRef)| Teller {
            branch,
            account,
            served: 0,
        })
        .start()
        .await
        .unwrap();
    // The arguments carry a ref to an account on A: the teller on B pays into it.
    let account = a.spawn(Account::default).await.unwrap();
    let args = ("north".to_owned(), account.clone());
    let teller = no_hang(a.spawn_remote_with::<Teller, _>(b.address(), Some("north"), &args))
        .await
        .unwrap();
    assert_eq!(no_hang(teller.pay_in(5)).await, Ok(5));
    assert_eq!(no_hang(account.balance()).await, Ok(5));
    assert_eq!(no_hang(teller.desk()).await, Ok(("north".to_owned(), 1)));
    // A supervised restart makes the fresh state from the same arguments.
    assert!(no_hang(teller.trip()).await.is_err());
    assert_eq!(no_hang(teller.desk()).await, Ok(("north".to_owned(), 0)));
    assert_eq!(no_hang(teller.pay_in(2)).await, Ok(7));
    // Found by name like any other.
    let found = no_hang(a.lookup_remote::<Teller>(b.address(), "north"))
        .await
        .unwrap();
    assert_eq!(found.pid(), teller.pid());

    // Refusals say which mismatch it was.
    let refused = |r: Result<(), RemoteError>| match r {
        Err(RemoteError::Refused(why)) => why,
        Ok(()) => panic!("expected a refusal, got a ref"),
        Err(other) => panic!("expected a refusal, got {other:?}"),
    };
    let why = refused(
        no_hang(a.spawn_remote::<Teller>(b.address(), None))
            .await
            .map(|_| ()),
    );
    assert!(why.contains("needs arguments"), "{why}");
    let why = refused(
        no_hang(a.spawn_remote_with::<Account, _>(b.address(), None, &7u64))
            .await
            .map(|_| ()),
    );
    assert!(why.contains("takes no arguments"), "{why}");
    let why = refused(
        no_hang(a.spawn_remote_with::<Teller, _>(b.address(), None, &42u64))
            .await
            .map(|_| ()),
    );
    assert!(why.contains("arguments for actor kind `"), "{why}");
    for n in [&a, &b] {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn asks_to_unknown_pids_fail_at_once_with_dead() {
    let (a, b) = (node().await, node().await);
    let real = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    let (mut a_events, mut b_events) = (a.events().subscribe(), b.events().subscribe());
    // A pid B never had: B answers the ask with an error reply (not a timeout, which
    // would be `AskError::Timeout`), and the ask and a tell become dead letters on B,
    // which found them undeliverable.
    let unknown = Pid::new(real.pid().node(), 999_999, real.pid().incarnation());
    let r: AccountRef = a.remote_ref::<Account>(b.address(), unknown);
    let answer = r.balance().timeout(Duration::from_secs(20)).await;
    assert_eq!(answer, Err(AskError::Dead));
    r.deposit(1).tell().await.unwrap();
    let mut dead = Vec::new();
    while dead.len() < 2 {
        if let Some(SystemEvent::DeadLetter(d)) = no_hang(b_events.recv()).await {
            dead.push((d.recipient, d.message));
        }
    }
    assert_eq!(
        dead,
        [
            (unknown, "a message from another node"),
            (unknown, "a message from another node")
        ]
    );
    // A pid of an earlier run of B: A knows B's run, so it fails at once, without
    // sending, and the dead letters are A's.
    let stale = Pid::new(
        real.pid().node(),
        real.pid().id(),
        real.pid().incarnation() ^ 1,
    );
    let r: AccountRef = a.remote_ref::<Account>(b.address(), stale);
    assert!(!r.is_alive());
    assert_eq!(r.balance().await, Err(AskError::Dead));
    assert!(r.deposit(1).tell().await.unwrap_err().is_dead());
    let mut dead = Vec::new();
    while dead.len() < 2 {
        if let Some(SystemEvent::DeadLetter(d)) = no_hang(a_events.recv()).await {
            dead.push((d.recipient, d.message));
        }
    }
    assert_eq!(
        dead,
        [(stale, "Account::balance"), (stale, "Account::deposit")]
    );
    // The real one was never touched.
    assert_eq!(real.balance().await, Ok(0));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn remote_stop_and_watch() {
    let (a, b) = (node().await, node().await);
    let (w, mut seen) = watcher(&a).await;
    let account = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    w.watch(account.clone()).await.unwrap();
    account.deposit(1).await.unwrap();
    account.stop();
    let (pid, reason) = no_hang(seen.recv()).await.unwrap();
    assert_eq!((pid, reason.as_str()), (account.pid(), "stopped"));
    no_hang(account.stopped()).await;
    assert!(!account.is_alive());
    assert_eq!(no_hang(account.balance()).await, Err(AskError::Dead));
    // Watching a pid that is already gone answers at once.
    w.watch(account.clone()).await.unwrap();
    let (pid, reason) = no_hang(seen.recv()).await.unwrap();
    assert_eq!(pid, account.pid());
    assert!(reason == "not found" || reason == "stopped", "{reason}");
    // Graceful stop: the messages sent before it are handled first.
    let other = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    for _ in 0..10 {
        other.deposit(1).tell().await.unwrap();
    }
    let (w2, mut seen2) = watcher(&a).await;
    w2.watch(other.clone()).await.unwrap();
    no_hang(other.stop_gracefully()).await;
    assert_eq!(no_hang(seen2.recv()).await.unwrap().0, other.pid());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn unwatch_stops_the_notice() {
    let (a, b) = (node().await, node().await);
    let (w, mut seen) = watcher(&a).await;
    let first = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    let second = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    w.watch(first.clone()).await.unwrap();
    w.watch(second.clone()).await.unwrap();
    w.unwatch(first.clone()).await.unwrap();
    first.stop();
    no_hang(first.stopped()).await;
    second.stop();
    // Only the second is reported.
    let (pid, _) = no_hang(seen.recv()).await.unwrap();
    assert_eq!(pid, second.pid());
    a.shutdown().await;
    b.shutdown().await;
}

/// A TCP proxy in front of a node: cutting it is a network partition (the node keeps
/// running, its streams die without a goodbye); healing it lets traffic through again
/// on the same address.
struct Proxy {
    address: std::net::SocketAddr,
    to: std::sync::Arc<std::sync::Mutex<Option<std::net::SocketAddr>>>,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = tokio::net::TcpListener::bind(any_port()).await.unwrap();
        let proxy = Proxy {
            address: listener.local_addr().unwrap(),
            to: Default::default(),
            tasks: Default::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (to, tasks) = (self.to.clone(), self.tasks.clone());
        let accept = tokio::spawn({
            let tasks = tasks.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let Some(target) = *to.lock().unwrap() else {
                        continue;
                    };
                    let conn = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().unwrap().push(conn);
                }
            }
        });
        tasks.lock().unwrap().push(accept);
    }

    fn forward_to(&self, target: &str) {
        *self.to.lock().unwrap() = Some(target.parse().unwrap());
    }

    /// Drops every connection and stops accepting: a partition.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Accepts again, on the same address.
    async fn heal(&self) {
        let listener = tokio::net::TcpListener::bind(self.address).await.unwrap();
        self.serve(listener);
    }
}

/// B reached through a proxy (B advertises the proxy's address).
async fn behind_proxy() -> (Node, Proxy) {
    let proxy = Proxy::start().await;
    let b = builder()
        .advertise(proxy.address.to_string())
        .start()
        .await
        .unwrap();
    proxy.forward_to(&b.endpoint_address().to_string());
    (b, proxy)
}

#[tokio::test]
async fn a_partition_is_node_down_and_healing_resumes_traffic() {
    let a = node().await;
    let (b, proxy) = behind_proxy().await;
    let mut events = a.events().subscribe();
    let (w, mut seen) = watcher(&a).await;
    let account = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    w.watch(account.clone()).await.unwrap();
    account.deposit(1).await.unwrap();
    // An ask in flight when the link goes: it fails, long before its handler would end.
    let napping = tokio::spawn({
        let account = account.clone();
        async move {
            let asked = std::time::Instant::now();
            (account.nap(3_000).await, asked.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.cut();
    let (nap, after) = no_hang(napping).await.unwrap();
    assert!(
        matches!(
            nap,
            Err(AskError::Remote(
                RemoteFailure::Unreachable { .. } | RemoteFailure::NodeDown(_)
            ))
        ),
        "{nap:?}"
    );
    assert!(after < Duration::from_secs(2), "failed after {after:?}");
    // The watcher hears of the loss within the heartbeat and down timeouts.
    let (pid, reason) = no_hang(seen.recv()).await.unwrap();
    assert_eq!(pid, account.pid());
    assert_eq!(reason, format!("node {} is down", b.address()));
    // Asks fail (the node is down, or a stream carrying the ask or its reply is lost),
    // never by hanging.
    match no_hang(account.balance()).await {
        Err(AskError::Remote(
            RemoteFailure::NodeDown(addr) | RemoteFailure::Unreachable { node: addr, .. },
        )) => assert_eq!(addr, b.address()),
        other => panic!("expected node down, got {other:?}"),
    }
    let mut down = false;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        if let SystemEvent::NodeDown { address, .. } = e {
            assert_eq!(address, b.address());
            down = true;
            break;
        }
    }
    assert!(down, "NodeDown published");
    // B kept running; once the network heals the same ref works again, nobody restarted.
    proxy.heal().await;
    let mut balance = Err(AskError::Dead);
    for _ in 0..100 {
        balance = account.balance().timeout(Duration::from_secs(5)).await;
        if balance.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        balance,
        Ok(1),
        "the actor on B is reachable again, with its state"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_frame_limit_fails_alone() {
    let limit = 64 * 1024;
    let small = |b: NodeBuilder| b.endpoint(|c| c.limits.max_frame_bytes = limit);
    let a = small(builder()).start().await.unwrap();
    let b = small(builder()).start().await.unwrap();
    let account = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    match no_hang(account.echo(vec![7; limit * 2])).await {
        Err(AskError::Remote(RemoteFailure::TooLarge { size, limit: l })) => {
            assert!(size > limit);
            assert_eq!(l, limit);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The stream stayed up.
    assert_eq!(no_hang(account.echo(vec![7; 1000])).await, Ok(1000));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn json_nodes_talk_json() {
    let json = || builder().codec(Codec::Json);
    let a = json().start().await.unwrap();
    let b = json().start().await.unwrap();
    let account = a.spawn_remote::<Account>(b.address(), None).await.unwrap();
    assert_eq!(no_hang(account.deposit(3)).await, Ok(3));
    assert_eq!(
        no_hang(account.withdraw(5)).await,
        Err(AskError::Handler(BankError::Insufficient {
            balance: 3,
            wanted: 5
        }))
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_node_without_the_secret_gets_nothing() {
    let a = node().await;
    let intruder = NodeBuilder::new(any_port(), "wrong secret")
        .down_after(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    match no_hang(intruder.spawn_remote::<Account>(a.address(), None)).await {
        Err(RemoteError::Failed(AskError::Remote(RemoteFailure::NodeDown(addr)))) => {
            assert_eq!(addr, a.address());
        }
        other => panic!("expected the node to be unreachable, got {other:?}"),
    }
    assert_eq!(a.actor_count(), 0, "nothing was spawned");
    a.shutdown().await;
    intruder.shutdown().await;
}

/// A test certificate authority, and node certificates for `localhost` signed by it.
#[cfg(feature = "tls")]
struct Authority {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

#[cfg(feature = "tls")]
impl Authority {
    fn new() -> Authority {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        Authority {
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    fn node_tls(&self) -> bactor::remote::TlsConfig {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        bactor::remote::TlsConfig {
            cert_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
            ca_pem: self.pem.clone().into_bytes(),
            domain: Some("localhost".to_owned()),
        }
    }
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn actors_talk_over_tls_and_plaintext_nodes_are_kept_out() {
    let ca = Authority::new();
    let a = builder().tls(ca.node_tls()).start().await.unwrap();
    let b = builder().tls(ca.node_tls()).start().await.unwrap();
    let account = no_hang(a.spawn_remote::<Account>(b.address(), None))
        .await
        .unwrap();
    assert_eq!(no_hang(account.deposit(9)).await, Ok(9));
    assert_eq!(no_hang(account.withdraw(4)).await, Ok(5));
    // A node without TLS cannot reach a TLS node (nor the other way round).
    let plain = node().await;
    match no_hang(plain.lookup_remote::<Account>(b.address(), "x")).await {
        Err(RemoteError::Failed(AskError::Remote(
            RemoteFailure::NodeDown(_) | RemoteFailure::Unreachable { .. },
        ))) => {}
        other => panic!("expected the TLS node to be unreachable, got {other:?}"),
    }
    for n in [&a, &b, &plain] {
        n.shutdown().await;
    }
}
