//! `quiet_actor_panics`: panics inside actors are not printed (they reach the event
//! stream with their location); other panics still go to the previous hook. A test
//! binary of its own: the panic hook is process-wide.

use std::sync::atomic::{AtomicUsize, Ordering};

use bactor::prelude::*;

mod common;
use common::no_hang;

/// Panics the previous hook saw.
static PRINTED: AtomicUsize = AtomicUsize::new(0);

#[actor]
#[derive(Default)]
struct Fragile;

#[actor]
impl Fragile {
    #[handler]
    fn poke(&mut self) {
        panic!("poked too hard");
    }

    #[handler]
    fn alive(&self) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_panics_are_quiet_and_located_others_reach_the_previous_hook() {
    std::panic::set_hook(Box::new(|_| {
        PRINTED.fetch_add(1, Ordering::SeqCst);
    }));
    bactor::quiet_actor_panics();
    bactor::quiet_actor_panics(); // once is enough; twice changes nothing

    let system = ActorSystem::new();
    let mut events = system.events().subscribe();
    let fragile = system.spawn(Fragile::default).await.unwrap();
    for _ in 0..3 {
        assert_eq!(no_hang(fragile.poke()).await, Err(AskError::Failed));
        loop {
            if let Some(SystemEvent::Supervisor(e)) = no_hang(events.recv()).await {
                let text = e.reason.to_string();
                assert!(text.contains("poked too hard"), "{text}");
                assert!(text.contains("quiet_panics.rs:"), "the location: {text}");
                break;
            }
        }
    }
    assert_eq!(no_hang(fragile.alive()).await, Ok(true), "restarted");
    assert_eq!(
        PRINTED.load(Ordering::SeqCst),
        0,
        "nothing printed for actor panics"
    );

    // A panic outside any actor still reaches the previous hook.
    let outside = std::panic::catch_unwind(|| panic!("not in an actor"));
    assert!(outside.is_err());
    assert_eq!(PRINTED.load(Ordering::SeqCst), 1);
    system.shutdown().await;
}
