//! `ActorSystem::actors`: the live actors as a tree, with their counters.

use bactor::prelude::*;

mod common;
use common::{no_hang, restarted};

#[actor]
#[derive(Default)]
struct Boss;

#[actor]
impl Boss {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        for name in ["w1", "w2"] {
            ctx.spawn_child_props(Props::from_producer(Worker::default).name(name))
                .await?;
        }
        Ok(())
    }
}

#[actor(mailbox = 8)]
#[derive(Default)]
struct Worker;

#[actor]
impl Worker {
    #[handler]
    fn work(&mut self) {}

    #[handler(fail_on_error)]
    fn fail(&mut self) -> Result<(), ActorError> {
        Err(ActorError::msg("out of coffee"))
    }

    #[handler]
    async fn block(&mut self, until: tokio::sync::oneshot::Receiver<()>) {
        let _ = until.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_and_the_counters_of_live_actors() {
    let system = ActorSystem::new();
    let boss = system.spawn_started(Boss::default).await.unwrap();
    let w1: WorkerRef = system.lookup::<Worker>("w1").unwrap();
    let w2: WorkerRef = system.lookup::<Worker>("w2").unwrap();
    for _ in 0..3 {
        no_hang(w1.work()).await.unwrap();
    }
    let mut events = system.events().subscribe();
    let _ = no_hang(w2.fail()).await;
    restarted(&mut events, w2.pid()).await;
    // w1 blocked, with two messages waiting behind the blocking one.
    let (release, until) = tokio::sync::oneshot::channel();
    no_hang(w1.block(until).tell()).await.unwrap();
    no_hang(w1.work().tell()).await.unwrap();
    no_hang(w1.work().tell()).await.unwrap();

    let actors = no_hang(async {
        loop {
            let actors = system.actors();
            let a1 = actors.iter().find(|a| a.pid == w1.pid()).unwrap();
            // The block taken (counted just after it leaves the mailbox), two behind it.
            if a1.mailbox == 2 && a1.handled == 4 {
                return actors;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(actors.len(), 3);
    let b = actors.iter().find(|a| a.pid == boss.pid()).unwrap();
    assert_eq!(b.parent, None);
    assert_eq!(b.children, [w1.pid(), w2.pid()]);
    assert!(b.type_name.ends_with("::Boss"));
    let a1 = actors.iter().find(|a| a.pid == w1.pid()).unwrap();
    assert_eq!(
        (
            a1.name.as_deref(),
            a1.parent,
            a1.handled,
            a1.failures,
            a1.mailbox
        ),
        // Three `work`s and the `block` it is in (counted as its handler starts).
        (Some("w1"), Some(boss.pid()), 4, 0, 2)
    );
    let a2 = actors.iter().find(|a| a.pid == w2.pid()).unwrap();
    assert_eq!((a2.handled, a2.failures, a2.restarts), (1, 1, 1));
    assert_eq!(a2.last_failure.as_deref(), Some("out of coffee"));
    let tree = bactor::ActorInfo::render_tree(&actors);
    let lines: Vec<&str> = tree.lines().collect();
    assert_eq!(lines.len(), 3, "{tree}");
    assert!(
        lines[0].contains("Boss") && !lines[0].starts_with(' '),
        "{tree}"
    );
    assert!(
        lines[1].starts_with("  ") && lines[1].contains("\"w1\""),
        "{tree}"
    );
    assert!(lines[2].contains("restarts=1"), "{tree}");
    let _ = release.send(());
    system.shutdown().await;
    assert!(system.actors().is_empty());
}
