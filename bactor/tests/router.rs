//! Routers: pool and group, round-robin, random, consistent hash and broadcast; routee
//! death, failure and management.

mod common;

use std::collections::{HashMap, HashSet};

use bactor::prelude::*;
use bactor::router::{ConsistentHash, Random, RoundRobin, RouterError};
use common::{dead_letter, eventually, no_hang, quiet_panics};

#[actor]
#[derive(Default)]
struct Worker {
    handled: u32,
}

#[actor]
impl Worker {
    /// Who handled it, and the input doubled.
    #[handler]
    fn work(&mut self, ctx: &mut Context<Self>, n: u32) -> (Pid, u32) {
        self.handled += 1;
        (ctx.pid(), n * 2)
    }

    /// Routed by `user` on a consistent-hash router.
    #[handler(route_key = user)]
    fn lookup(&self, ctx: &mut Context<Self>, user: String) -> Pid {
        let _ = user;
        ctx.pid()
    }

    #[handler]
    fn handled(&self) -> u32 {
        self.handled
    }

    #[handler]
    fn check(&self, n: u32) -> Result<u32, String> {
        if n == 0 { Err("zero".into()) } else { Ok(n) }
    }

    #[handler]
    fn quit(&self, ctx: &mut Context<Self>) {
        ctx.stop();
    }

    #[handler]
    fn crash(&self) {
        panic!("router-test crash");
    }
}

async fn who(pool: &WorkerRef, n: u32) -> Pid {
    let (pid, twice) = no_hang(pool.work(n)).await.unwrap();
    assert_eq!(twice, n * 2, "the routee's reply");
    pid
}

#[tokio::test]
async fn round_robin_takes_each_routee_in_turn() {
    let system = ActorSystem::new();
    let pool = system
        .spawn_pool(3, Worker::default, RoundRobin)
        .await
        .unwrap();
    let routees = pool.routees();
    assert_eq!(routees.len(), 3);
    let mut order = Vec::new();
    for n in 0..9 {
        order.push(who(&pool, n).await);
    }
    assert_eq!(&order[..3], &routees[..], "in turn, from the first");
    assert_eq!(order[..3], order[3..6]);
    assert_eq!(order[3..6], order[6..9]);
    // `Result` replies pass through.
    assert_eq!(
        no_hang(pool.check(0)).await,
        Err(AskError::Handler("zero".into()))
    );
    system.shutdown().await;
}

#[tokio::test]
async fn random_reaches_every_routee() {
    let system = ActorSystem::new();
    let pool = system.spawn_pool(4, Worker::default, Random).await.unwrap();
    let mut count: HashMap<Pid, u32> = HashMap::new();
    for n in 0..200 {
        *count.entry(who(&pool, n).await).or_default() += 1;
    }
    // Four routees, 200 picks: each is picked (a miss has odds under 1e-24).
    assert_eq!(count.len(), 4, "{count:?}");
    system.shutdown().await;
}

#[tokio::test]
async fn consistent_hash_keeps_keys_on_their_routee() {
    let system = ActorSystem::new();
    let pool = system
        .spawn_pool(4, Worker::default, ConsistentHash)
        .await
        .unwrap();
    let users: Vec<String> = (0..64).map(|i| format!("user-{i}")).collect();
    let mut owner = HashMap::new();
    for u in &users {
        let pid = no_hang(pool.lookup(u.clone())).await.unwrap();
        owner.insert(u.clone(), pid);
        // The same key, the same routee.
        assert_eq!(no_hang(pool.lookup(u.clone())).await.unwrap(), pid);
    }
    let used: HashSet<Pid> = owner.values().copied().collect();
    assert!(
        used.len() >= 3,
        "64 keys spread over the ring: {}",
        used.len()
    );
    // Remove one routee: only its keys move.
    let gone = pool.routees()[0];
    assert!(no_hang(pool.remove_routee(gone)).await.unwrap());
    for u in &users {
        let now = no_hang(pool.lookup(u.clone())).await.unwrap();
        if owner[u] != gone {
            assert_eq!(now, owner[u], "{u} kept its routee");
        } else {
            assert_ne!(now, gone);
        }
    }
    // Messages without a key go round-robin.
    let mut seen = HashSet::new();
    for n in 0..3 {
        seen.insert(who(&pool, n).await);
    }
    assert_eq!(seen.len(), 3);
    system.shutdown().await;
}

#[tokio::test]
async fn broadcast_reaches_every_routee() {
    let system = ActorSystem::new();
    let all = system
        .spawn_broadcast_pool(3, Worker::default)
        .await
        .unwrap();
    assert_eq!(all.tell(|w| w.work(1)).await, 3);
    assert_eq!(all.tell(|w| w.work(2)).await, 3);
    for w in all.routee_refs() {
        assert_eq!(no_hang(w.handled()).await.unwrap(), 2);
    }
    system.shutdown().await;
}

/// A pool restarts a failing routee (same pid) and replaces one that stops.
#[tokio::test]
async fn a_pool_restarts_failing_routees_and_replaces_stopped_ones() {
    let _quiet = quiet_panics("router-test crash");
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let pool = system
        .spawn_pool(2, Worker::default, RoundRobin)
        .await
        .unwrap();
    let first = pool.routees();
    // The first routee crashes: restarted by the router, its supervisor.
    assert_eq!(no_hang(pool.crash()).await, Err(AskError::Failed));
    common::restarted(&mut events, first[0]).await;
    assert_eq!(pool.routees(), first, "a restart keeps the routee");
    // The second one stops: replaced.
    no_hang(pool.quit()).await.unwrap();
    eventually(|| !pool.routees().contains(&first[1])).await;
    let now = pool.routees();
    assert_eq!(now.len(), 2);
    assert!(now.contains(&first[0]));
    let mut seen = HashSet::new();
    for n in 0..4 {
        seen.insert(who(&pool, n).await);
    }
    assert_eq!(seen.len(), 2);
    assert!(!seen.contains(&first[1]));
    // Stopping the router stops its routees first.
    let routees = pool.routees();
    pool.router().stop();
    no_hang(pool.router().stopped()).await;
    assert_eq!(
        system.actor_count(),
        0,
        "{routees:?} stopped with their router"
    );
    system.shutdown().await;
}

/// A group watches its routees: one that stops is removed; with none left a message is a
/// dead letter and its asker gets `Dead`.
#[tokio::test]
async fn a_group_drops_routees_that_stop() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let a = system.spawn(Worker::default).await.unwrap();
    let b = system.spawn(Worker::default).await.unwrap();
    let group = system
        .spawn_group([a.clone(), b.clone()], RoundRobin)
        .await
        .unwrap();
    assert_eq!(group.routees(), [a.pid(), b.pid()]);
    a.stop();
    no_hang(a.stopped()).await;
    for n in 0..4 {
        assert_eq!(who(&group, n).await, b.pid());
    }
    assert_eq!(group.routees(), [b.pid()]);
    // Resizing is for pools.
    assert_eq!(no_hang(group.resize(3)).await, Err(RouterError::NotAPool));
    b.stop();
    no_hang(b.stopped()).await;
    eventually(|| group.routees().is_empty()).await;
    assert_eq!(no_hang(group.work(1)).await, Err(AskError::Dead));
    let d = dead_letter(&mut events).await;
    assert_eq!(
        (d.recipient, d.message),
        (group.router().pid(), "Worker::work")
    );
    // Routees can be added again.
    let c = system.spawn(Worker::default).await.unwrap();
    no_hang(group.add_routee(&c)).await.unwrap();
    assert_eq!(who(&group, 5).await, c.pid());
    system.shutdown().await;
}

#[tokio::test]
async fn a_pool_resizes_and_lists_its_routees() {
    let system = ActorSystem::new();
    let pool = system
        .spawn_pool(2, Worker::default, RoundRobin)
        .await
        .unwrap();
    no_hang(pool.resize(5)).await.unwrap();
    assert_eq!(pool.routees().len(), 5);
    let mut seen = HashSet::new();
    for n in 0..5 {
        seen.insert(who(&pool, n).await);
    }
    assert_eq!(seen.len(), 5);
    no_hang(pool.resize(1)).await.unwrap();
    let left = pool.routees();
    assert_eq!(left.len(), 1);
    for n in 0..3 {
        assert_eq!(who(&pool, n).await, left[0]);
    }
    // The four removed ones finish what they had and stop.
    // The router and its one routee are left.
    eventually(|| system.actor_count() == 2).await;
    // A stopped router answers management with an error.
    pool.router().stop();
    no_hang(pool.router().stopped()).await;
    assert_eq!(no_hang(pool.resize(2)).await, Err(RouterError::Stopped));
    system.shutdown().await;
}

/// Management answers only once the change is visible: a resize right after a routee
/// quit (its replacement racing the resize) always lists the new size.
#[tokio::test]
async fn a_resize_is_visible_when_it_returns() {
    for _ in 0..50 {
        let system = ActorSystem::new();
        let pool = system
            .spawn_pool(3, Worker::default, RoundRobin)
            .await
            .unwrap();
        no_hang(pool.quit()).await.unwrap();
        no_hang(pool.resize(4)).await.unwrap();
        assert_eq!(pool.routees().len(), 4, "{:?}", pool.routees());
        system.shutdown().await;
    }
}
