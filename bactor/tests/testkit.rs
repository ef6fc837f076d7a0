//! The test kit itself: probes, the recording supervisor, the paused clock.

use std::time::Duration;

use bactor::prelude::*;
use bactor::testkit::{Received, TestProbe, TestSupervisor, clock};

#[actor]
struct Alarm {
    probe: bactor::testkit::ProbeRef<String>,
}

#[actor]
impl Alarm {
    /// Rings after `after`, through a timer.
    #[handler]
    fn set(&mut self, ctx: &mut Context<Self>, after: Duration) {
        let ring = ctx.myself().typed().ring().into_message();
        ctx.send_after(after, ring);
    }

    #[handler]
    async fn ring(&mut self) {
        let _ = self.probe.tell("ring".to_owned()).await;
    }

    #[handler(fail_on_error)]
    fn fail(&mut self) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("broken"))
    }
}

#[tokio::test]
async fn a_probe_receives_in_order_and_fishes() {
    let system = ActorSystem::new();
    let mut probe = TestProbe::<u32>::new(&system).await;
    let send = probe.actor_ref().sink();
    for n in 1..=5 {
        send(n);
    }
    assert_eq!(probe.receive_n(2).await, [1, 2]);
    assert_eq!(probe.fish_for_msg(|n| n % 2 == 0).await, 4);
    probe.expect_msg_eq(5).await;
    probe.expect_no_msg_within(Duration::from_millis(10)).await;
    assert!(
        probe
            .receive_within(Duration::from_millis(1))
            .await
            .is_none()
    );
    system.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "expected a message within 10ms, but none came")]
async fn expect_msg_fails_when_nothing_comes() {
    let system = ActorSystem::new();
    let mut probe = TestProbe::<u32>::new(&system)
        .await
        .with_timeout(Duration::from_millis(10));
    probe.expect_msg().await;
}

#[tokio::test]
#[should_panic(expected = "expected nothing for 50ms, but received Msg(7)")]
async fn expect_no_msg_fails_when_one_comes() {
    let system = ActorSystem::new();
    let mut probe = TestProbe::<u32>::new(&system).await;
    probe.actor_ref().tell(7).await.unwrap();
    probe.expect_no_msg_within(Duration::from_millis(50)).await;
}

#[tokio::test]
#[should_panic(expected = "the probe received another message")]
async fn expect_msg_eq_fails_on_another_message() {
    let system = ActorSystem::new();
    let mut probe = TestProbe::<u32>::new(&system).await;
    probe.actor_ref().tell(1).await.unwrap();
    probe.expect_msg_eq(2).await;
}

#[tokio::test]
#[should_panic(expected = "no matching message")]
async fn fishing_fails_when_nothing_matches() {
    let system = ActorSystem::new();
    let mut probe = TestProbe::<u32>::new(&system)
        .await
        .with_timeout(Duration::from_millis(20));
    probe.actor_ref().tell(1).await.unwrap();
    probe.fish_for_msg(|n| *n > 1).await;
}

#[tokio::test]
async fn a_probe_watches_stops_and_failures() {
    let system = ActorSystem::builder()
        .guardian_strategy(SupervisorStrategy::one_for_one().max_restarts(0))
        .build();
    let mut probe = TestProbe::<String>::new(&system).await;
    let probe_ref = probe.actor_ref();
    let alarm = system
        .spawn(move || Alarm {
            probe: probe_ref.clone(),
        })
        .await
        .unwrap();
    probe.watch(&alarm).await;
    let _ = alarm.fail().await;
    match probe.expect_terminated(alarm.pid()).await {
        StopReason::Failed(e) => assert!(e.to_string().contains("broken"), "{e}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    // An actor already gone: the notice comes at once, as `NotFound`.
    probe.watch(&alarm).await;
    assert!(matches!(
        probe.expect_terminated(alarm.pid()).await,
        StopReason::NotFound
    ));
    system.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "but received Msg(\"ring\")")]
async fn expect_terminated_fails_on_a_message() {
    let system = ActorSystem::new();
    let mut probe = TestProbe::<String>::new(&system).await;
    probe.actor_ref().tell("ring".to_owned()).await.unwrap();
    probe.expect_terminated(probe.pid()).await;
}

#[tokio::test(start_paused = true)]
async fn timers_run_on_the_paused_clock() {
    let system = ActorSystem::new();
    let mut probe = TestProbe::<String>::new(&system).await;
    let probe_ref = probe.actor_ref();
    let alarm = system
        .spawn(move || Alarm {
            probe: probe_ref.clone(),
        })
        .await
        .unwrap();
    alarm.set(Duration::from_secs(60)).await.unwrap();
    clock::advance(Duration::from_secs(59)).await;
    assert!(probe.receive_within(Duration::ZERO).await.is_none());
    clock::advance(Duration::from_secs(1)).await;
    assert!(matches!(
        probe.receive_within(Duration::ZERO).await,
        Some(Received::Msg(m)) if m == "ring"
    ));

    // Or let tokio jump to the timer, and measure the virtual time it took.
    alarm.set(Duration::from_secs(3600)).await.unwrap();
    let mut probe = probe.with_timeout(Duration::from_secs(7200));
    let (msg, took) = clock::timed(probe.expect_msg()).await;
    assert_eq!((msg.as_str(), took), ("ring", Duration::from_secs(3600)));
    system.shutdown().await;
}

#[tokio::test]
async fn the_test_supervisor_records_every_failure_and_directive() {
    let system = ActorSystem::new();
    let strategy = SupervisorStrategy::one_for_one()
        .max_restarts(2)
        .within(Duration::from_secs(60));
    let mut sup = TestSupervisor::new(&system, strategy).await;
    let mut probe = TestProbe::<String>::new(&system).await;
    let probe_ref = probe.actor_ref();
    let alarm = sup
        .spawn(move || Alarm {
            probe: probe_ref.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        system
            .actors()
            .iter()
            .find(|a| a.pid == alarm.pid())
            .and_then(|a| a.parent),
        Some(sup.pid())
    );

    for _ in 0..2 {
        let _ = alarm.fail().await;
        let e = sup.expect_directive(Directive::Restart).await;
        assert_eq!((e.child, e.message), (alarm.pid(), Some("Alarm::fail")));
        sup.expect_restarted(alarm.pid()).await;
    }
    sup.expect_no_failure_within(Duration::from_millis(20))
        .await;
    let _ = alarm.fail().await; // the third one within the window: stopped
    sup.expect_directive(Directive::Stop).await;
    let directives: Vec<Directive> = sup.failures().iter().map(|e| e.directive).collect();
    assert_eq!(
        directives,
        [Directive::Restart, Directive::Restart, Directive::Stop]
    );
    probe.expect_no_msg_within(Duration::from_millis(1)).await;
    system.shutdown().await;
}

#[tokio::test]
#[should_panic(expected = "the supervisor decided otherwise")]
async fn expect_directive_fails_on_another_directive() {
    let system = ActorSystem::new();
    let mut sup =
        TestSupervisor::new(&system, SupervisorStrategy::one_for_one().max_restarts(0)).await;
    let mut probe = TestProbe::<String>::new(&system).await;
    let probe_ref = probe.actor_ref();
    let alarm = sup
        .spawn(move || Alarm {
            probe: probe_ref.clone(),
        })
        .await
        .unwrap();
    let _ = alarm.fail().await;
    let _ = probe.receive_within(Duration::ZERO).await;
    sup.expect_directive(Directive::Restart).await;
}
