//! The five creation patterns of the seed plan.

use bactor::prelude::*;
use tokio::sync::mpsc;

mod common;
use common::no_hang;

#[actor]
#[derive(Default)]
struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }
}

#[tokio::test]
async fn class_based_actor() {
    let system = ActorSystem::new();
    let c: CounterRef = no_hang(system.spawn(Counter::default)).await.unwrap();
    assert_eq!(no_hang(c.add(2)).await, Ok(2));
    assert_eq!(no_hang(c.add(3)).await, Ok(5));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn producer_closure_and_props() {
    let system = ActorSystem::new();
    let start = 40;
    let c = no_hang(system.spawn(move || Counter { count: start }))
        .await
        .unwrap();
    assert_eq!(no_hang(c.add(2)).await, Ok(42));
    let p = no_hang(system.spawn_props(Props::from_producer(|| Counter { count: -1 }).name("neg")))
        .await
        .unwrap();
    assert_eq!(no_hang(p.add(1)).await, Ok(0));
    assert_eq!(system.whereis("neg"), Some(p.pid()));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn lambda_handler() {
    let system = ActorSystem::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let upper = no_hang(system.spawn_fn(move |s: String| {
        let tx = tx.clone();
        async move {
            tokio::task::yield_now().await; // async bodies work
            tx.send(s.to_uppercase()).unwrap();
        }
    }))
    .await
    .unwrap();
    no_hang(upper.tell("a".to_owned())).await.unwrap();
    no_hang(upper.tell("b".to_owned())).await.unwrap();
    assert_eq!(no_hang(rx.recv()).await.as_deref(), Some("A"));
    assert_eq!(no_hang(rx.recv()).await.as_deref(), Some("B"));
    no_hang(system.shutdown()).await;
}

enum Account {
    Deposit(u64),
    Balance(ReplyTo<u64>),
}

#[tokio::test]
async fn stateful_closure() {
    let system = ActorSystem::new();
    let acct = no_hang(system.spawn_props(Props::from_state(
        10_u64,
        |bal: &mut u64, msg: Account| match msg {
            Account::Deposit(n) => *bal += n,
            Account::Balance(reply) => {
                let _ = reply.send(*bal);
            }
        },
    )))
    .await
    .unwrap();
    no_hang(acct.tell(Account::Deposit(5))).await.unwrap();
    no_hang(acct.tell(Account::Deposit(7))).await.unwrap();
    assert_eq!(no_hang(acct.ask(Account::Balance)).await, Ok(22));
    no_hang(system.shutdown()).await;
}

enum Cmd {
    WhoAmI(ReplyTo<Pid>),
    Spawn(u32, ReplyTo<Vec<Pid>>),
    Quit,
}

#[tokio::test]
async fn context_aware_closure() {
    let system = ActorSystem::new();
    let boss = no_hang(system.spawn_props(Props::from_func(
        |ctx: &mut Context<FuncActor<Cmd>>, cmd: Cmd| match cmd {
            Cmd::WhoAmI(reply) => {
                let _ = reply.send(ctx.pid());
            }
            Cmd::Spawn(n, reply) => {
                // The closure is synchronous: children are spawned without awaiting.
                for i in 0..n {
                    let start = i64::from(i) * 100;
                    ctx.spawn_child_now(Props::from_producer(move || Counter { count: start }))
                        .expect("spawn a child");
                }
                let _ = reply.send(ctx.children());
            }
            Cmd::Quit => ctx.stop(),
        },
    )))
    .await
    .unwrap();
    assert_eq!(no_hang(boss.ask(Cmd::WhoAmI)).await, Ok(boss.pid()));
    let kids = no_hang(boss.ask(|r| Cmd::Spawn(3, r))).await.unwrap();
    assert_eq!(kids.len(), 3);
    // Each child is a live Counter made by its own producer.
    let mut refs = Vec::new();
    for pid in &kids {
        let kid: CounterRef = system.resolve::<Counter>(*pid).unwrap();
        refs.push(kid);
    }
    let mut starts = Vec::new();
    for kid in &refs {
        starts.push(no_hang(kid.add(1)).await.unwrap() - 1);
    }
    starts.sort_unstable();
    assert_eq!(starts, [0, 100, 200]);
    // More children later: the context keeps all of them.
    assert_eq!(
        no_hang(boss.ask(|r| Cmd::Spawn(1, r))).await.unwrap().len(),
        4
    );
    // Stopping the closure actor stops its children first.
    no_hang(boss.tell(Cmd::Quit)).await.unwrap();
    no_hang(boss.stopped()).await;
    for kid in &refs {
        assert!(!kid.is_alive());
        assert_eq!(no_hang(kid.add(1)).await, Err(AskError::Dead));
    }
    assert!(!boss.is_alive());
    assert_eq!(system.actor_count(), 0);
    no_hang(system.shutdown()).await;
}

/// A hand-written `Actor` impl, for completeness: no macro involved.
struct Manual {
    seen: Vec<u8>,
}

impl Actor for Manual {
    type Msg = (u8, ReplyTo<Vec<u8>>);
    type Ref = ActorRef<Self>;

    async fn handle(
        &mut self,
        (b, reply): Self::Msg,
        _ctx: &mut Context<Self>,
    ) -> Result<(), ActorError> {
        self.seen.push(b);
        let _ = reply.send(self.seen.clone());
        Ok(())
    }
}

#[tokio::test]
async fn hand_written_actor() {
    let system = ActorSystem::new();
    let m = no_hang(system.spawn(|| Manual { seen: vec![] }))
        .await
        .unwrap();
    assert_eq!(no_hang(m.ask(|r| (1, r))).await, Ok(vec![1]));
    assert_eq!(no_hang(m.ask(|r| (2, r))).await, Ok(vec![1, 2]));
    no_hang(system.shutdown()).await;
}

/// Arguments passed once; every start and restart begins from them again.
#[actor]
#[derive(Clone)]
struct Seeded {
    total: u64,
}

impl Seeded {
    fn from_seed(seed: u64) -> Self {
        Seeded { total: seed }
    }
}

#[actor]
impl Seeded {
    #[handler]
    fn add(&mut self, n: u64) -> u64 {
        self.total += n;
        self.total
    }

    #[handler(fail_on_error)]
    fn crash(&mut self) -> Result<(), ActorError> {
        Err(ActorError::msg("crash"))
    }

    #[handler]
    async fn child_from_args(
        &mut self,
        ctx: &mut Context<Self>,
        seed: u64,
    ) -> Result<u64, SpawnError> {
        let child = ctx.spawn_child_with(seed, Seeded::from_seed).await?;
        Ok(child.add(0).await.unwrap_or_default())
    }

    #[handler]
    async fn child_from_value(
        &mut self,
        ctx: &mut Context<Self>,
        total: u64,
    ) -> Result<u64, SpawnError> {
        let child = ctx.spawn_child_value(Seeded { total }).await?;
        Ok(child.add(0).await.unwrap_or_default())
    }
}

#[tokio::test]
async fn spawn_with_args_and_from_a_value_restart_from_them() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let with = system.spawn_with(5u64, Seeded::from_seed).await.unwrap();
    let value = system.spawn_value(Seeded { total: 100 }).await.unwrap();
    assert_eq!(common::no_hang(with.add(1)).await.unwrap(), 6);
    assert_eq!(common::no_hang(value.add(1)).await.unwrap(), 101);
    for r in [&with, &value] {
        let _ = common::no_hang(r.crash()).await;
        common::restarted(&mut events, r.pid()).await;
    }
    // Restarted from the arguments, and from the initial value.
    assert_eq!(common::no_hang(with.add(0)).await.unwrap(), 5);
    assert_eq!(common::no_hang(value.add(0)).await.unwrap(), 100);
    assert_eq!(common::no_hang(with.child_from_args(7)).await.unwrap(), 7);
    assert_eq!(common::no_hang(with.child_from_value(9)).await.unwrap(), 9);
    system.shutdown().await;
}
