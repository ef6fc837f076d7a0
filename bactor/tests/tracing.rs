//! `tracing` integration (feature `tracing`):
//! `cargo test -p bactor --features tracing --test tracing`.
#![cfg(feature = "tracing")]

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bactor::prelude::*;

mod common;
use common::no_hang;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records span names with their fields, and event messages.
#[derive(Default)]
struct Recorder {
    spans: Mutex<Vec<String>>,
    events: Mutex<Vec<String>>,
    next: AtomicU64,
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut fields = Fields(attrs.metadata().name().to_owned());
        attrs.record(&mut fields);
        self.spans.lock().unwrap().push(fields.0);
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.events.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[actor]
#[derive(Default)]
struct Counter {
    n: u64,
}

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, by: u64) -> u64 {
        self.n += by;
        self.n
    }

    #[handler]
    fn boom(&self) {
        panic!("boom");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn messages_get_spans_and_failures_get_events() {
    let recorder = Arc::new(Recorder::default());
    // The current-thread runtime runs every actor on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(Arc::clone(&recorder));
    let system = ActorSystem::new();
    let c = no_hang(system.spawn(Counter::default)).await.unwrap();
    assert_eq!(no_hang(c.add(2)).await.unwrap(), 2);
    assert_eq!(no_hang(c.boom()).await, Err(AskError::Failed));
    assert_eq!(no_hang(c.add(1)).await.unwrap(), 1);
    no_hang(system.shutdown()).await;

    let spans = recorder.spans.lock().unwrap().clone();
    assert!(
        spans
            .iter()
            .any(|s| s.starts_with("bactor.message") && s.contains("what=\"Counter::add\"")),
        "{spans:?}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.starts_with("bactor.hook") && s.contains("pre_start"))
    );
    let events = recorder.events.lock().unwrap().join("\n");
    assert!(events.contains("actor failed"), "{events}");
    assert!(events.contains("supervisor decision"), "{events}");
    assert!(events.contains("directive=restart"), "{events}");
    assert!(events.contains("actor stopped"), "{events}");
}
