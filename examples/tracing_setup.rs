//! Seeing what actors do with `tracing` (feature `tracing`) and `tracing-subscriber`.
//!
//! Run with `cargo run --example tracing_setup`. It prints, through `tracing-subscriber`'s `fmt`
//! layer:
//!
//! - the `bactor.message` span of every handler (fields `pid`, `actor`, `what`: the
//!   message's name, `Type::handler`), closed with its time (`FmtSpan::CLOSE`);
//! - the `bactor.hook` span of every lifecycle hook (`what`: the hook's name);
//! - the events: `actor started` (debug: `pid`, `actor`) / `actor stopped` (debug: `pid`,
//!   `reason`), `actor failed` (warn: `pid`, `error`, `handler`: the message being
//!   handled, if any), `supervisor decision` (info: `child`, `supervisor`, `directive`,
//!   `delay`, `reason`), `dead letter` (debug: `recipient`, `letter`: the message's name);
//! - an event of the application's own, inside the span of the handler that logs it.
//!
//! Remote actors add `bactor.remote.send` and `bactor.remote.receive` spans (trace:
//! `target`, `node` or `from`, `method`) and `remote` warnings (target `bactor::remote`).
//! Everything bactor emits has a target under `bactor`: filter it with
//! `Targets::new().with_target("bactor", Level::DEBUG)`.

use bactor::prelude::*;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

#[actor]
#[derive(Default)]
struct Greeter {
    greeted: u32,
}

#[actor]
impl Greeter {
    #[handler]
    fn greet(&mut self, name: String) -> String {
        self.greeted += 1;
        // The application's own event: printed inside the `bactor.message` span.
        tracing::info!(greeted = self.greeted, "greeting {name}");
        format!("hello, {name}")
    }

    #[handler]
    fn trip(&mut self) {
        panic!("tripped over a greeting");
    }

    fn post_restart(&mut self, reason: &ActorError) {
        tracing::info!(%reason, "greeter restarted");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_span_events(FmtSpan::CLOSE)
                .with_target(true)
                .with_ansi(false),
        )
        .with(
            Targets::new()
                .with_target("bactor", Level::DEBUG)
                .with_target("tracing_setup", Level::INFO),
        )
        .init();
    // The panic below is expected: it reaches the `actor failed` event, not stderr.
    bactor::quiet_actor_panics();

    let system = ActorSystem::new();
    let greeter = system.spawn_named("greeter", Greeter::default).await?;
    println!("{}", greeter.greet("Ada".into()).await?);
    let _ = greeter.trip().await; // a failure, a decision, a restart
    println!("{}", greeter.greet("Grace".into()).await?);
    greeter.stop();
    greeter.stopped().await;
    let _ = greeter.greet("nobody".into()).tell().await; // a dead letter
    system.shutdown().await;
    Ok(())
}
