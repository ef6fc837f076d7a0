//! Supervision, the restart lifecycle and death watch, modelled on Akka's and Proto.Actor's
//! supervision specs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bactor::Strategy;
use bactor::prelude::*;
use bactor::testkit::{TestSupervisor, clock};

mod common;
use common::{decision, no_hang, restarted};

type Log = Arc<Mutex<Vec<String>>>;

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn note(log: &Log, entry: String) {
    log.lock().unwrap().push(entry);
}

/// Errors a worker can fail with; the test decider picks a directive by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resume,
    #[allow(dead_code)] // what the decider does with any other error
    Restart,
    Stop,
    Escalate,
}

#[derive(Debug)]
struct KindError(Kind);

impl std::fmt::Display for KindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for KindError {}

fn by_kind(error: &ActorError) -> Directive {
    match error.downcast_ref::<KindError>() {
        Some(KindError(Kind::Resume)) => Directive::Resume,
        Some(KindError(Kind::Stop)) => Directive::Stop,
        Some(KindError(Kind::Escalate)) => Directive::Escalate,
        Some(KindError(Kind::Restart)) | None => Directive::Restart,
    }
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// A worker with state, an instance number and a log of its hooks.
#[actor]
struct Worker {
    name: &'static str,
    inst: usize,
    count: u64,
    log: Log,
}

fn worker(name: &'static str, log: &Log) -> impl Fn() -> Worker + Send + Sync + 'static {
    let log = log.clone();
    move || Worker {
        name,
        inst: INSTANCES.fetch_add(1, Ordering::Relaxed),
        count: 0,
        log: log.clone(),
    }
}

#[actor]
impl Worker {
    #[handler]
    fn incr(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    #[handler]
    fn get(&self) -> (u64, usize) {
        (self.count, self.inst)
    }

    #[handler]
    fn boom(&mut self) -> u64 {
        panic!("boom in {}", self.name)
    }

    /// Panics after an `.await`, with its reply slot held across it.
    #[handler]
    async fn late_boom(&mut self) -> u64 {
        tokio::task::yield_now().await;
        panic!("late boom in {}", self.name)
    }

    /// An `Err` here is a failure that goes to the supervisor.
    #[handler(fail_on_error)]
    fn fail(&mut self, kind: Kind) -> Result<u64, KindError> {
        Err(KindError(kind))
    }

    /// A plain `Err` is just a reply.
    #[handler]
    fn refuse(&self) -> Result<u64, String> {
        Err(format!("{} refuses", self.name))
    }

    fn pre_start(&mut self) {
        note(&self.log, format!("{}#{} pre_start", self.name, self.inst));
    }

    fn pre_restart(&mut self, reason: &ActorError) {
        note(
            &self.log,
            format!("{}#{} pre_restart: {reason}", self.name, self.inst),
        );
    }

    async fn post_restart(&mut self, ctx: &mut Context<Self>, reason: &ActorError) {
        let _ = ctx.pid();
        note(
            &self.log,
            format!("{}#{} post_restart: {reason}", self.name, self.inst),
        );
    }

    fn post_stop(&mut self) {
        note(&self.log, format!("{}#{} post_stop", self.name, self.inst));
    }
}

/// Spawns the worker `name` as a child of the actor of `ctx`.
async fn hire<A: Actor>(
    ctx: &mut Context<A>,
    name: &'static str,
    log: &Log,
) -> Result<(), ActorError> {
    ctx.spawn_child_props(Props::from_producer(worker(name, log)).name(name))
        .await?;
    Ok(())
}

/// What a boss spawns in `pre_start`.
#[derive(Clone)]
enum Spec {
    Worker(&'static str),
    /// A boss with the strategy it applies to its own children.
    Boss(&'static str, SupervisorStrategy, Vec<Spec>),
}

#[actor]
struct Boss {
    name: &'static str,
    kids: Vec<Spec>,
    log: Log,
}

fn boss(
    name: &'static str,
    kids: Vec<Spec>,
    log: &Log,
) -> impl Fn() -> Boss + Send + Sync + 'static {
    let log = log.clone();
    move || Boss {
        name,
        kids: kids.clone(),
        log: log.clone(),
    }
}

#[actor]
impl Boss {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        note(&self.log, format!("{} pre_start", self.name));
        for kid in self.kids.clone() {
            match kid {
                Spec::Worker(n) => hire(ctx, n, &self.log).await?,
                Spec::Boss(n, strategy, kids) => {
                    let props = Props::from_producer(boss(n, kids, &self.log))
                        .name(n)
                        .supervisor(strategy);
                    ctx.spawn_child_props(props).await?;
                }
            }
        }
        Ok(())
    }

    #[handler]
    fn children(&self, ctx: &mut Context<Self>) -> Vec<Pid> {
        ctx.children()
    }

    fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {
        note(&self.log, format!("{} saw {pid} end: {reason}", self.name));
    }

    fn post_stop(&mut self) {
        note(&self.log, format!("{} post_stop", self.name));
    }
}

async fn spawn_boss(
    system: &ActorSystem,
    name: &'static str,
    strategy: SupervisorStrategy,
    kids: Vec<Spec>,
    log: &Log,
) -> BossRef {
    let b = system
        .spawn_props(
            Props::from_producer(boss(name, kids, log))
                .name(name)
                .supervisor(strategy),
        )
        .await
        .unwrap();
    // Wait until pre_start has spawned the children.
    no_hang(b.children()).await.unwrap();
    b
}

fn find(system: &ActorSystem, name: &str) -> WorkerRef {
    system.lookup::<Worker>(name).unwrap()
}

fn kinds() -> SupervisorStrategy {
    SupervisorStrategy::one_for_one().decider(by_kind)
}

#[tokio::test]
async fn resume_keeps_state() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    no_hang(spawn_boss(
        &system,
        "b",
        kinds(),
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    no_hang(w.incr()).await.unwrap();
    no_hang(w.incr()).await.unwrap();
    let before = no_hang(w.get()).await.unwrap();
    assert!(matches!(
        no_hang(w.fail(Kind::Resume)).await,
        Err(AskError::Failed)
    ));
    let e = no_hang(decision(&mut events, w.pid())).await;
    assert_eq!(e.directive, Directive::Resume);
    assert_eq!(e.message, Some("Worker::fail"));
    assert_eq!(e.reason.to_string(), "Resume");
    // Same instance, same state; the failing message was dropped, the next one works.
    assert_eq!(no_hang(w.get()).await.unwrap(), before);
    assert_eq!(no_hang(w.incr()).await.unwrap(), 3);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn restart_resets_state_and_runs_hooks_on_the_right_instances() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    no_hang(spawn_boss(
        &system,
        "b",
        kinds(),
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    no_hang(w.incr()).await.unwrap();
    let (_, old) = no_hang(w.get()).await.unwrap();
    // A panicking handler: the asker gets an error, never a hang.
    assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
    assert_eq!(
        no_hang(decision(&mut events, w.pid())).await.directive,
        Directive::Restart
    );
    no_hang(restarted(&mut events, w.pid())).await;
    // The ref from before the restart reaches the fresh instance.
    let (count, new) = no_hang(w.get()).await.unwrap();
    assert_eq!(count, 0);
    assert_ne!(new, old);
    let log = entries(&log);
    let expected = [
        format!("w#{old} pre_start"),
        format!("w#{old} pre_restart: panicked: boom in w"),
        format!("w#{new} post_restart: panicked: boom in w"),
    ];
    let seen: Vec<&String> = log.iter().filter(|e| e.starts_with("w#")).collect();
    assert_eq!(seen, expected.iter().collect::<Vec<_>>(), "{log:?}");
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn an_async_handler_that_panics_after_an_await_fails_the_ask() {
    let system = ActorSystem::new();
    let log = Log::default();
    let w = no_hang(system.spawn(worker("w", &log))).await.unwrap();
    assert_eq!(no_hang(w.late_boom()).await, Err(AskError::Failed));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn plain_errors_are_replies_not_failures() {
    let system = ActorSystem::new();
    let log = Log::default();
    no_hang(spawn_boss(
        &system,
        "b",
        kinds(),
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    no_hang(w.incr()).await.unwrap();
    assert_eq!(
        no_hang(w.refuse()).await,
        Err(AskError::Handler("w refuses".to_owned()))
    );
    // Nothing happened to the actor.
    assert_eq!(no_hang(w.incr()).await.unwrap(), 2);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn decider_stop_stops_the_child_and_the_parent_learns_why() {
    let system = ActorSystem::new();
    let log = Log::default();
    let b = no_hang(spawn_boss(
        &system,
        "b",
        kinds(),
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    assert!(matches!(
        no_hang(w.fail(Kind::Stop)).await,
        Err(AskError::Failed)
    ));
    no_hang(w.stopped()).await;
    assert!(no_hang(b.children()).await.unwrap().is_empty());
    let log = entries(&log);
    assert!(
        log.contains(&format!("b saw {} end: failed: Stop", w.pid())),
        "{log:?}"
    );
    no_hang(system.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn restart_limit_within_window_stops_and_resets_outside_it() {
    let system = ActorSystem::new();
    let log = Log::default();
    let strategy = SupervisorStrategy::one_for_one()
        .max_restarts(2)
        .within(Duration::from_secs(1));
    let mut events = system.events().subscribe();
    no_hang(spawn_boss(
        &system,
        "b",
        strategy,
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");

    // Two failures inside the window: restarted each time.
    for _ in 0..2 {
        assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
        assert_eq!(
            no_hang(decision(&mut events, w.pid())).await.directive,
            Directive::Restart
        );
    }
    // Outside the window the count starts over.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..2 {
        assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
        assert_eq!(
            no_hang(decision(&mut events, w.pid())).await.directive,
            Directive::Restart
        );
    }
    assert!(w.is_alive());
    // A third failure inside the window exceeds the limit: stopped.
    assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
    assert_eq!(
        no_hang(decision(&mut events, w.pid())).await.directive,
        Directive::Stop
    );
    no_hang(w.stopped()).await;
    assert!(!w.is_alive());
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn zero_restarts_stops_at_the_first_failure() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let strategy = SupervisorStrategy::one_for_one().max_restarts(0);
    no_hang(spawn_boss(
        &system,
        "b",
        strategy,
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
    assert_eq!(
        no_hang(decision(&mut events, w.pid())).await.directive,
        Directive::Stop
    );
    no_hang(w.stopped()).await;
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn all_for_one_restarts_the_siblings() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let strategy = SupervisorStrategy::all_for_one();
    assert_eq!(strategy.strategy(), Strategy::AllForOne);
    no_hang(spawn_boss(
        &system,
        "b",
        strategy,
        vec![Spec::Worker("x"), Spec::Worker("y"), Spec::Worker("z")],
        &log,
    ))
    .await;
    let (x, y, z) = (find(&system, "x"), find(&system, "y"), find(&system, "z"));
    for r in [&x, &y, &z] {
        no_hang(r.incr()).await.unwrap();
    }
    assert_eq!(no_hang(y.boom()).await, Err(AskError::Failed));
    let mut pending = vec![x.pid(), y.pid(), z.pid()];
    while !pending.is_empty() {
        if let Some(SystemEvent::ActorRestarted { pid, .. }) = no_hang(events.recv()).await {
            pending.retain(|p| *p != pid);
        }
    }
    for r in [&x, &y, &z] {
        assert_eq!(no_hang(r.get()).await.unwrap().0, 0, "state was reset");
    }
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn all_for_one_stop_stops_the_siblings() {
    let system = ActorSystem::new();
    let log = Log::default();
    let strategy = SupervisorStrategy::all_for_one().decider(by_kind);
    let b = no_hang(spawn_boss(
        &system,
        "b",
        strategy,
        vec![Spec::Worker("x"), Spec::Worker("y")],
        &log,
    ))
    .await;
    let (x, y) = (find(&system, "x"), find(&system, "y"));
    assert!(matches!(
        no_hang(x.fail(Kind::Stop)).await,
        Err(AskError::Failed)
    ));
    no_hang(x.stopped()).await;
    no_hang(y.stopped()).await;
    assert!(no_hang(b.children()).await.unwrap().is_empty());
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn escalate_reaches_the_grandparent() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    // grand restarts what fails below it; mid escalates what fails below it.
    let mid = Spec::Boss("mid", kinds(), vec![Spec::Worker("w")]);
    let grand = no_hang(spawn_boss(
        &system,
        "grand",
        SupervisorStrategy::one_for_one(),
        vec![mid],
        &log,
    ))
    .await;
    let mid_pid = system.whereis("mid").unwrap();
    let w = find(&system, "w");
    no_hang(w.incr()).await.unwrap();
    assert!(matches!(
        no_hang(w.fail(Kind::Escalate)).await,
        Err(AskError::Failed)
    ));
    let at_mid = no_hang(decision(&mut events, w.pid())).await;
    assert_eq!(at_mid.supervisor, Some(mid_pid));
    assert_eq!(at_mid.directive, Directive::Escalate);
    let at_grand = no_hang(decision(&mut events, mid_pid)).await;
    assert_eq!(at_grand.supervisor, Some(grand.pid()));
    assert_eq!(at_grand.directive, Directive::Restart);
    let (child, cause) = at_grand.reason.escalated_from().unwrap();
    assert_eq!(child, w.pid());
    assert_eq!(cause.to_string(), "Escalate");
    // mid restarted: its old worker was stopped and a fresh one spawned by pre_start.
    no_hang(w.stopped()).await;
    no_hang(restarted(&mut events, mid_pid)).await;
    let fresh = no_hang(async {
        loop {
            if let Ok(r) = system.lookup::<Worker>("w") {
                break r;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_ne!(fresh.pid(), w.pid());
    assert_eq!(no_hang(fresh.get()).await.unwrap().0, 0);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn escalate_without_grandparent_falls_back_to_the_default() {
    // The guardian's own decider says Escalate; the guardian has no parent, so that
    // becomes Restart.
    let system = ActorSystem::builder()
        .guardian_strategy(SupervisorStrategy::one_for_one().decider(|_| Directive::Escalate))
        .build();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let top = no_hang(spawn_boss(
        &system,
        "top",
        kinds(),
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    assert!(matches!(
        no_hang(w.fail(Kind::Escalate)).await,
        Err(AskError::Failed)
    ));
    assert_eq!(
        no_hang(decision(&mut events, w.pid())).await.directive,
        Directive::Escalate
    );
    // The top-level actor failed in turn; the guardian restarts it.
    let at_guardian = no_hang(decision(&mut events, top.pid())).await;
    assert_eq!(at_guardian.supervisor, None);
    assert_eq!(at_guardian.directive, Directive::Restart);
    no_hang(restarted(&mut events, top.pid())).await;
    assert_eq!(no_hang(top.children()).await.unwrap().len(), 1);
    assert!(top.is_alive());
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_top_level_escalate_from_the_default_guardian_restarts_too() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let top = no_hang(spawn_boss(
        &system,
        "top",
        kinds(),
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    assert!(matches!(
        no_hang(w.fail(Kind::Escalate)).await,
        Err(AskError::Failed)
    ));
    let at_guardian = no_hang(decision(&mut events, top.pid())).await;
    assert_eq!(
        (at_guardian.supervisor, at_guardian.directive),
        (None, Directive::Restart)
    );
    no_hang(restarted(&mut events, top.pid())).await;
    no_hang(system.shutdown()).await;
}

// Written with the test kit: a recording supervisor and the paused clock.
#[tokio::test(start_paused = true)]
async fn backoff_grows_exponentially_and_queued_messages_survive() {
    let system = ActorSystem::new();
    let log = Log::default();
    let strategy = SupervisorStrategy::one_for_one()
        .max_restarts(10)
        .within(Duration::from_secs(60))
        .backoff(Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_millis(500),
        ));
    let mut sup = TestSupervisor::new(&system, strategy).await;
    let w = sup.spawn(worker("w", &log)).await.unwrap();
    for planned in [100, 200, 400, 500] {
        let ((), took) = clock::timed(async {
            w.boom().tell().await.unwrap();
            let decided = sup.expect_directive(Directive::Restart).await;
            assert_eq!(decided.delay, Duration::from_millis(planned));
            // Messages sent during the backoff wait in the mailbox.
            for _ in 0..3 {
                w.incr().tell().await.unwrap();
            }
            sup.expect_restarted(w.pid()).await;
        })
        .await;
        // On the paused clock the restart comes exactly when its backoff ends.
        assert_eq!(took, Duration::from_millis(planned));
        assert_eq!(w.get().await.unwrap().0, 3, "queued messages were handled");
    }
    assert_eq!(sup.failures().len(), 4);
    no_hang(system.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn backoff_resets_after_a_quiet_period() {
    let system = ActorSystem::new();
    let log = Log::default();
    let strategy = SupervisorStrategy::one_for_one().backoff(
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5))
            .reset_after(Duration::from_secs(1)),
    );
    let mut sup = TestSupervisor::new(&system, strategy).await;
    let w = sup.spawn(worker("w", &log)).await.unwrap();
    let mut planned = Vec::new();
    for pause in [0, 0, 2_000] {
        clock::advance(Duration::from_millis(pause)).await;
        w.boom().tell().await.unwrap();
        planned.push(sup.expect_failure().await.delay.as_millis());
        sup.expect_restarted(w.pid()).await;
    }
    assert_eq!(planned, [100, 200, 100]);
    no_hang(system.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn jitter_stays_within_its_bounds_and_varies() {
    let system = ActorSystem::new();
    let log = Log::default();
    // min = max: every base delay is 100 ms, so all variation is jitter (± 50 %).
    let backoff =
        Backoff::exponential(Duration::from_millis(100), Duration::from_millis(100)).jitter(0.5);
    assert_eq!(backoff.base_delay(5), Duration::from_millis(100));
    let strategy = SupervisorStrategy::one_for_one()
        .max_restarts(1_000)
        .within(Duration::from_secs(3600))
        .backoff(backoff);
    let mut events = system.events().subscribe();
    no_hang(spawn_boss(
        &system,
        "b",
        strategy,
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    let mut delays = Vec::new();
    for _ in 0..40 {
        no_hang(w.boom().tell()).await.unwrap();
        delays.push(no_hang(decision(&mut events, w.pid())).await.delay);
        no_hang(restarted(&mut events, w.pid())).await;
    }
    for d in &delays {
        assert!(
            (Duration::from_millis(50)..=Duration::from_millis(150)).contains(d),
            "{d:?} outside 100 ms ± 50 %"
        );
    }
    let (lo, hi) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
    // 40 samples: both halves of the range are hit (the chance of missing one is 2^-39).
    assert!(
        *lo < Duration::from_millis(100) && *hi > Duration::from_millis(100),
        "jitter does not spread: {delays:?}"
    );
    no_hang(system.shutdown()).await;
}

/// Panics in `pre_start` the first time only.
#[actor]
struct Shaky {
    armed: Arc<AtomicBool>,
    post_stop_panics: bool,
}

#[actor]
impl Shaky {
    fn pre_start(&mut self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            panic!("not ready yet");
        }
    }

    #[handler]
    fn ping(&self) -> &'static str {
        "pong"
    }

    fn post_stop(&mut self) {
        if self.post_stop_panics {
            panic!("post_stop failed");
        }
    }
}

#[tokio::test]
async fn a_panic_in_pre_start_is_supervised() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let armed = Arc::new(AtomicBool::new(true));
    let a = armed.clone();
    let s = no_hang(system.spawn(move || Shaky {
        armed: a.clone(),
        post_stop_panics: false,
    }))
    .await
    .unwrap();
    let e = no_hang(decision(&mut events, s.pid())).await;
    assert_eq!(e.directive, Directive::Restart);
    assert!(e.reason.is_panic());
    assert_eq!(e.message, None, "it failed in a hook, not on a message");
    // The restarted instance started fine and answers.
    assert_eq!(no_hang(s.ping()).await.unwrap(), "pong");
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_panic_in_post_stop_is_reported_and_the_stop_completes() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let s = no_hang(system.spawn(|| Shaky {
        armed: Arc::new(AtomicBool::new(false)),
        post_stop_panics: true,
    }))
    .await
    .unwrap();
    no_hang(s.ping()).await.unwrap();
    s.stop();
    no_hang(s.stopped()).await;
    loop {
        if let Some(SystemEvent::ActorStopped { pid, reason }) = no_hang(events.recv()).await
            && pid == s.pid()
        {
            assert_eq!(reason.to_string(), "failed: panicked: post_stop failed");
            break;
        }
    }
    assert_eq!(system.actor_count(), 0);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn guardian_restarts_top_level_actors_up_to_its_limit() {
    let system = ActorSystem::builder()
        .guardian_strategy(SupervisorStrategy::one_for_one().max_restarts(1))
        .build();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let w = no_hang(system.spawn(worker("top", &log))).await.unwrap();
    assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
    assert_eq!(
        no_hang(decision(&mut events, w.pid())).await.directive,
        Directive::Restart
    );
    assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
    let e = no_hang(decision(&mut events, w.pid())).await;
    assert_eq!((e.supervisor, e.directive), (None, Directive::Stop));
    no_hang(w.stopped()).await;
    no_hang(system.shutdown()).await;
}

/// Watches actors and logs what it hears; its hook panics on the first notice.
#[actor]
struct Watcher {
    log: Log,
    panic_once: Arc<AtomicBool>,
}

#[actor]
impl Watcher {
    #[handler]
    fn watch(&mut self, ctx: &mut Context<Self>, target: WorkerRef) {
        ctx.watch(&target);
    }

    #[handler]
    fn unwatch(&mut self, ctx: &mut Context<Self>, target: WorkerRef) {
        ctx.unwatch(&target);
    }

    #[handler]
    fn ping(&self) {}

    fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {
        if self.panic_once.swap(false, Ordering::SeqCst) {
            panic!("hook failed on {pid}");
        }
        note(&self.log, format!("{pid}: {reason}"));
    }
}

async fn watcher(system: &ActorSystem, log: &Log, panic_once: bool) -> WatcherRef {
    let (log, flag) = (log.clone(), Arc::new(AtomicBool::new(panic_once)));
    system
        .spawn(move || Watcher {
            log: log.clone(),
            panic_once: flag.clone(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn death_watch_reports_stopped_failed_and_not_found() {
    let system = ActorSystem::new();
    let log = Log::default();
    let wlog = Log::default();
    let watch = no_hang(watcher(&system, &wlog, false)).await;
    let strategy = kinds();
    no_hang(spawn_boss(
        &system,
        "b",
        strategy,
        vec![Spec::Worker("calm"), Spec::Worker("doomed")],
        &log,
    ))
    .await;
    let (calm, doomed) = (find(&system, "calm"), find(&system, "doomed"));
    no_hang(watch.watch(calm.clone())).await.unwrap();
    no_hang(watch.watch(doomed.clone())).await.unwrap();
    calm.stop();
    no_hang(calm.stopped()).await;
    assert!(matches!(
        no_hang(doomed.fail(Kind::Stop)).await,
        Err(AskError::Failed)
    ));
    no_hang(doomed.stopped()).await;
    // Watching a pid that is already dead answers NotFound at once.
    no_hang(watch.watch(calm.clone())).await.unwrap();
    no_hang(watch.ping()).await.unwrap();
    let mut seen = entries(&wlog);
    seen.sort();
    let mut expected = vec![
        format!("{}: stopped", calm.pid()),
        format!("{}: failed: Stop", doomed.pid()),
        format!("{}: not found", calm.pid()),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn unwatch_cancels_the_notice() {
    let system = ActorSystem::new();
    let log = Log::default();
    let wlog = Log::default();
    let watch = no_hang(watcher(&system, &wlog, false)).await;
    let w = no_hang(system.spawn(worker("w", &log))).await.unwrap();
    no_hang(watch.watch(w.clone())).await.unwrap();
    no_hang(watch.unwatch(w.clone())).await.unwrap();
    w.stop();
    no_hang(w.stopped()).await;
    no_hang(watch.ping()).await.unwrap();
    assert!(entries(&wlog).is_empty());
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn no_system_message_is_lost_when_a_hook_fails() {
    let system = ActorSystem::new();
    let log = Log::default();
    let wlog = Log::default();
    let mut events = system.events().subscribe();
    let watch = no_hang(watcher(&system, &wlog, true)).await;
    let a = no_hang(system.spawn(worker("a", &log))).await.unwrap();
    let b = no_hang(system.spawn(worker("b", &log))).await.unwrap();
    no_hang(watch.watch(a.clone())).await.unwrap();
    no_hang(watch.watch(b.clone())).await.unwrap();
    a.stop();
    b.stop();
    no_hang(a.stopped()).await;
    no_hang(b.stopped()).await;
    // The first notice made the hook panic: the watcher was restarted...
    let e = no_hang(decision(&mut events, watch.pid())).await;
    assert_eq!(e.directive, Directive::Restart);
    no_hang(restarted(&mut events, watch.pid())).await;
    // ...and the second notice still reached the fresh instance.
    no_hang(watch.ping()).await.unwrap();
    let seen = entries(&wlog);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].ends_with(": stopped"));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn a_parent_learns_when_a_child_stops() {
    let system = ActorSystem::new();
    let log = Log::default();
    let b = no_hang(spawn_boss(
        &system,
        "b",
        kinds(),
        vec![Spec::Worker("w")],
        &log,
    ))
    .await;
    let w = find(&system, "w");
    w.stop();
    no_hang(w.stopped()).await;
    assert!(no_hang(b.children()).await.unwrap().is_empty());
    assert!(entries(&log).contains(&format!("b saw {} end: stopped", w.pid())));
    no_hang(system.shutdown()).await;
}

/// A boss whose worker `w` waits an hour before each restart.
async fn hour_of_backoff(system: &ActorSystem, log: &Log) -> (BossRef, WorkerRef) {
    let hour = Duration::from_secs(3600);
    let strategy = SupervisorStrategy::one_for_one().backoff(Backoff::exponential(hour, hour));
    let b = spawn_boss(system, "b", strategy, vec![Spec::Worker("w")], log).await;
    (b, find(system, "w"))
}

#[tokio::test(start_paused = true)]
async fn stop_during_backoff_stops_without_restarting() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let (b, w) = no_hang(hour_of_backoff(&system, &log)).await;
    let (_, inst) = no_hang(w.get()).await.unwrap();
    assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
    assert_eq!(
        no_hang(decision(&mut events, w.pid())).await.delay,
        Duration::from_secs(3600)
    );
    // The worker is waiting out an hour of backoff; `stop()` ends it now.
    w.stop();
    no_hang(w.stopped()).await;
    assert!(!w.is_alive());
    // Long past the backoff: no restart ever happened, and the boss lives on.
    tokio::time::sleep(Duration::from_secs(7200)).await;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::ZERO, events.recv()).await {
        assert!(
            !matches!(e, SystemEvent::ActorRestarted { pid, .. } if pid == w.pid()),
            "restarted after stop: {e:?}"
        );
    }
    let hooks: Vec<String> = entries(&log)
        .into_iter()
        .filter(|e| e.starts_with("w#"))
        .collect();
    assert_eq!(
        hooks,
        [format!("w#{inst} pre_start"), format!("w#{inst} post_stop")],
        "no new instance was made"
    );
    assert!(b.is_alive());
    assert!(no_hang(b.children()).await.unwrap().is_empty());
    no_hang(system.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_backoff_does_not_wait_for_it() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let (b, w) = no_hang(hour_of_backoff(&system, &log)).await;
    assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
    no_hang(decision(&mut events, w.pid())).await;
    let start = tokio::time::Instant::now();
    no_hang(system.shutdown()).await;
    assert!(
        start.elapsed() < Duration::from_secs(3600),
        "waited out the backoff"
    );
    assert!(!b.is_alive() && !w.is_alive());
}

/// Supervises with the settings of its `#[supervise]` attribute only.
#[actor]
#[supervise(
    max_restarts = 5,
    within = "1h",
    backoff = exponential(min = "100ms", max = "300ms", reset = "1h"),
    decide = by_kind
)]
struct Declared {
    log: Log,
}

#[actor]
impl Declared {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        hire(ctx, "dw", &self.log).await
    }

    #[handler]
    fn ping(&self) {}
}

/// Counts every failure ever (`within = "0s"`), at most two restarts.
#[actor]
#[supervise(max_restarts = 2, within = "0s")]
struct Strict {
    log: Log,
}

#[actor]
impl Strict {
    async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> {
        hire(ctx, "sw", &self.log).await
    }

    #[handler]
    fn ping(&self) {}
}

#[tokio::test(start_paused = true)]
async fn supervise_attribute_backoff_and_decider_take_effect() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let l = log.clone();
    let boss = no_hang(system.spawn(move || Declared { log: l.clone() }))
        .await
        .unwrap();
    no_hang(boss.ping()).await.unwrap();
    let w = find(&system, "dw");
    // The decider of the attribute: Resume keeps the instance.
    let (_, inst) = no_hang(w.get()).await.unwrap();
    assert!(matches!(
        no_hang(w.fail(Kind::Resume)).await,
        Err(AskError::Failed)
    ));
    let e = no_hang(decision(&mut events, w.pid())).await;
    assert_eq!(
        (e.supervisor, e.directive),
        (Some(boss.pid()), Directive::Resume)
    );
    assert_eq!(no_hang(w.get()).await.unwrap().1, inst);
    // Its backoff: 100, 200, then capped at 300 ms; each restart waits its delay.
    let mut planned = Vec::new();
    for _ in 0..3 {
        let start = tokio::time::Instant::now();
        no_hang(w.boom().tell()).await.unwrap();
        let e = no_hang(decision(&mut events, w.pid())).await;
        assert_eq!(e.directive, Directive::Restart);
        no_hang(restarted(&mut events, w.pid())).await;
        assert!(start.elapsed() >= e.delay);
        planned.push(e.delay.as_millis());
    }
    assert_eq!(planned, [100, 200, 300]);
    // And Stop from the decider stops the child.
    assert!(matches!(
        no_hang(w.fail(Kind::Stop)).await,
        Err(AskError::Failed)
    ));
    assert_eq!(
        no_hang(decision(&mut events, w.pid())).await.directive,
        Directive::Stop
    );
    no_hang(w.stopped()).await;
    no_hang(system.shutdown()).await;
}

#[tokio::test(start_paused = true)]
async fn within_zero_counts_every_failure_ever() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let l = log.clone();
    let boss = no_hang(system.spawn(move || Strict { log: l.clone() }))
        .await
        .unwrap();
    no_hang(boss.ping()).await.unwrap();
    let w = find(&system, "sw");
    // Failures a day apart still add up: two restarts, then the third failure stops it.
    for expected in [Directive::Restart, Directive::Restart, Directive::Stop] {
        tokio::time::sleep(Duration::from_secs(86_400)).await;
        assert_eq!(no_hang(w.boom()).await, Err(AskError::Failed));
        assert_eq!(
            no_hang(decision(&mut events, w.pid())).await.directive,
            expected
        );
    }
    no_hang(w.stopped()).await;
    no_hang(system.shutdown()).await;
}

/// Ticks on a timer armed by a handler, counting ticks per instance in a shared log.
#[actor]
struct Ticker {
    inst: usize,
    ticks: Arc<Mutex<Vec<usize>>>,
}

#[actor]
impl Ticker {
    #[handler]
    fn arm(&mut self, ctx: &mut Context<Self>) {
        ctx.send_interval(Duration::from_millis(10), || TickerMsg::Tick {
            __bactor_reply: None,
        });
    }

    #[handler]
    fn tick(&mut self) {
        self.ticks.lock().unwrap().push(self.inst);
    }

    #[handler]
    fn boom(&mut self) {
        panic!("ticker failed");
    }
}

#[tokio::test(start_paused = true)]
async fn timers_are_cancelled_on_restart() {
    let system = ActorSystem::new();
    let ticks = Arc::new(Mutex::new(Vec::new()));
    let made = Arc::new(AtomicUsize::new(0));
    let mut events = system.events().subscribe();
    let (t2, m2) = (ticks.clone(), made.clone());
    let t = no_hang(system.spawn(move || Ticker {
        inst: m2.fetch_add(1, Ordering::SeqCst),
        ticks: t2.clone(),
    }))
    .await
    .unwrap();
    no_hang(t.arm()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(105)).await;
    assert!(ticks.lock().unwrap().len() >= 5, "the timer runs");
    assert_eq!(no_hang(t.boom()).await, Err(AskError::Failed));
    no_hang(restarted(&mut events, t.pid())).await;
    // A hundred periods later the new instance has seen at most a tick that was already
    // queued when the old one failed: the timer itself died with the old instance.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: usize = ticks.lock().unwrap().iter().filter(|&&i| i == 1).count();
    assert!(after <= 1, "{after} ticks reached the restarted instance");
    no_hang(system.shutdown()).await;
}

/// Hooks that fail with an `Err` (not a panic) the first time.
#[actor]
struct Grumpy {
    first: Arc<AtomicBool>,
}

#[actor]
impl Grumpy {
    #[handler]
    fn boom(&mut self) {
        panic!("grumpy failed");
    }

    #[handler]
    fn watch(&mut self, ctx: &mut Context<Self>, target: WorkerRef) {
        ctx.watch(&target);
    }

    #[handler]
    fn ping(&self) {}

    async fn post_restart(
        &mut self,
        _ctx: &mut Context<Self>,
        _reason: &ActorError,
    ) -> Result<(), ActorError> {
        if self.first.swap(false, Ordering::SeqCst) {
            return Err(ActorError::msg("post_restart refused"));
        }
        Ok(())
    }

    fn on_terminated(&mut self, _pid: Pid, _reason: &StopReason) -> Result<(), ActorError> {
        Err(ActorError::msg("on_terminated refused"))
    }
}

#[tokio::test]
async fn an_err_from_post_restart_is_a_failure() {
    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let first = Arc::new(AtomicBool::new(true));
    let f = first.clone();
    let g = no_hang(system.spawn(move || Grumpy { first: f.clone() }))
        .await
        .unwrap();
    assert_eq!(no_hang(g.boom()).await, Err(AskError::Failed));
    assert!(
        no_hang(decision(&mut events, g.pid()))
            .await
            .reason
            .is_panic()
    );
    // The restart's post_restart returned Err: a second failure, decided again.
    let e = no_hang(decision(&mut events, g.pid())).await;
    assert_eq!(e.reason.to_string(), "post_restart refused");
    assert_eq!(e.message, None);
    assert_eq!(e.directive, Directive::Restart);
    no_hang(g.ping()).await.unwrap();
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn an_err_from_on_terminated_is_a_failure() {
    let system = ActorSystem::new();
    let log = Log::default();
    let mut events = system.events().subscribe();
    let g = no_hang(system.spawn(|| Grumpy {
        first: Arc::new(AtomicBool::new(false)),
    }))
    .await
    .unwrap();
    let w = no_hang(system.spawn(worker("w", &log))).await.unwrap();
    no_hang(g.watch(w.clone())).await.unwrap();
    w.stop();
    no_hang(w.stopped()).await;
    let e = no_hang(decision(&mut events, g.pid())).await;
    assert_eq!(e.reason.to_string(), "on_terminated refused");
    assert_eq!(e.directive, Directive::Restart);
    no_hang(restarted(&mut events, g.pid())).await;
    no_hang(g.ping()).await.unwrap();
    no_hang(system.shutdown()).await;
}
