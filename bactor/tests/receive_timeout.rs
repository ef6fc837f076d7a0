//! The receive timeout (`Context::set_receive_timeout`, the `on_receive_timeout` hook) and
//! `Context::pipe_to_self`, on a paused clock: the times asserted are exact.

mod common;

use std::time::Duration;

use bactor::prelude::*;
use common::{decision, no_hang, quiet_panics, restarted};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

const IDLE: Duration = Duration::from_millis(100);

#[actor]
struct Idle {
    fired: mpsc::UnboundedSender<Instant>,
}

#[actor]
impl Idle {
    #[handler]
    fn arm(&mut self, ctx: &mut Context<Self>, timeout: Duration) {
        ctx.set_receive_timeout(timeout);
    }

    #[handler]
    fn disarm(&mut self, ctx: &mut Context<Self>) {
        ctx.cancel_receive_timeout();
    }

    #[handler]
    fn touch(&self) {}

    #[handler]
    fn armed(&self, ctx: &mut Context<Self>) -> Option<Duration> {
        ctx.receive_timeout()
    }

    #[handler]
    fn crash(&self) {
        panic!("receive-timeout-test crash");
    }

    fn on_receive_timeout(&mut self) {
        let _ = self.fired.send(Instant::now());
    }
}

async fn idle_actor(system: &ActorSystem) -> (IdleRef, mpsc::UnboundedReceiver<Instant>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let a = system
        .spawn(move || Idle { fired: tx.clone() })
        .await
        .unwrap();
    (a, rx)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn fires_after_each_idle_period() {
    let system = ActorSystem::new();
    let (a, mut fired) = idle_actor(&system).await;
    no_hang(a.arm(IDLE)).await.unwrap();
    let armed_at = Instant::now();
    assert_eq!(fired.recv().await.unwrap() - armed_at, IDLE);
    // Still idle: it fires again, one period later.
    assert_eq!(fired.recv().await.unwrap() - armed_at, IDLE * 2);
    system.shutdown().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn every_user_message_starts_the_period_again() {
    let system = ActorSystem::new();
    let (a, mut fired) = idle_actor(&system).await;
    no_hang(a.arm(IDLE)).await.unwrap();
    // A message every 60 ms for 600 ms: never idle for 100 ms.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        no_hang(a.touch()).await.unwrap();
        assert!(fired.try_recv().is_err(), "fired while busy");
    }
    let last = Instant::now();
    assert_eq!(fired.recv().await.unwrap() - last, IDLE);
    system.shutdown().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn cancelled_it_no_longer_fires() {
    let system = ActorSystem::new();
    let (a, mut fired) = idle_actor(&system).await;
    no_hang(a.arm(IDLE)).await.unwrap();
    fired.recv().await.unwrap();
    no_hang(a.disarm()).await.unwrap();
    assert_eq!(no_hang(a.armed()).await.unwrap(), None);
    tokio::time::sleep(IDLE * 10).await;
    assert!(fired.try_recv().is_err());
    system.shutdown().await;
}

/// A restart clears it: the new instance sets its own.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_restart_clears_it() {
    let _quiet = quiet_panics("receive-timeout-test crash");
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let (a, mut fired) = idle_actor(&system).await;
    no_hang(a.arm(IDLE)).await.unwrap();
    assert_eq!(no_hang(a.crash()).await, Err(AskError::Failed));
    assert_eq!(
        decision(&mut events, a.pid()).await.directive,
        Directive::Restart
    );
    restarted(&mut events, a.pid()).await;
    assert_eq!(no_hang(a.armed()).await.unwrap(), None);
    tokio::time::sleep(IDLE * 10).await;
    assert!(fired.try_recv().is_err());
    system.shutdown().await;
}

/// Sets a drop flag when the piped future is dropped (finished or aborted).
struct Guard(Option<oneshot::Sender<()>>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

#[actor]
#[derive(Default)]
struct Piper {
    results: Vec<u32>,
}

#[actor]
impl Piper {
    /// Pipes `input`'s value, once it comes, times ten.
    #[handler]
    fn start(&mut self, ctx: &mut Context<Self>, input: oneshot::Receiver<u32>, guard: Guard) {
        let me = ctx.myself().typed();
        ctx.pipe_to_self(
            async move {
                let _guard = guard;
                input.await.unwrap_or(0) * 10
            },
            move |v| me.result(v).into_message(),
        );
    }

    #[handler]
    fn result(&mut self, value: u32) {
        self.results.push(value);
    }

    #[handler]
    fn results(&self) -> Vec<u32> {
        self.results.clone()
    }

    #[handler]
    fn crash(&self) {
        panic!("pipe-test crash");
    }
}

/// A piper waiting on a piped future: the future's input, and word of its drop.
async fn piping(system: &ActorSystem) -> (PiperRef, oneshot::Sender<u32>, oneshot::Receiver<()>) {
    let p = system.spawn(Piper::default).await.unwrap();
    let (input, rx) = oneshot::channel();
    let (dropped_tx, dropped) = oneshot::channel();
    no_hang(p.start(rx, Guard(Some(dropped_tx)))).await.unwrap();
    (p, input, dropped)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_piped_result_arrives_as_a_message() {
    let system = ActorSystem::new();
    let (p, input, dropped) = piping(&system).await;
    // The mailbox is free while the future waits.
    assert!(no_hang(p.results()).await.unwrap().is_empty());
    input.send(4).unwrap();
    no_hang(dropped).await.unwrap();
    // The result is the next message after the future ended.
    assert_eq!(no_hang(p.results()).await.unwrap(), [40]);
    system.shutdown().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_stop_drops_the_piped_future_and_nothing_is_sent() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let (p, input, dropped) = piping(&system).await;
    p.stop();
    no_hang(p.stopped()).await;
    // Aborted: the future is dropped where it waited, its input never read.
    no_hang(dropped).await.unwrap();
    assert!(
        input.send(1).is_err(),
        "the future was dropped with its receiver"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    while let Some(event) = events.try_recv() {
        assert!(
            !matches!(event, SystemEvent::DeadLetter(_)),
            "nothing was sent after the stop: {event:?}"
        );
    }
    system.shutdown().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_restart_drops_the_piped_future() {
    let _quiet = quiet_panics("pipe-test crash");
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let (p, input, dropped) = piping(&system).await;
    assert_eq!(no_hang(p.crash()).await, Err(AskError::Failed));
    restarted(&mut events, p.pid()).await;
    no_hang(dropped).await.unwrap();
    assert!(input.send(1).is_err());
    assert!(no_hang(p.results()).await.unwrap().is_empty());
    system.shutdown().await;
}
