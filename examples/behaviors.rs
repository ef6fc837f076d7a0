//! Behaviours and the stash: a connection that goes `Disconnected → Connecting →
//! Connected`. Messages sent too early are stashed and served in order once connected;
//! asks that make no sense in the current state are refused with an error naming it. An
//! idle connection closes itself (receive timeout), and the handshake runs off the
//! mailbox (pipe-to-self).
//!
//! `cargo run --example behaviors`

use std::time::Duration;

use bactor::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum State {
    Disconnected,
    Connecting { attempt: u32 },
    Connected { peer: String },
}

/// `send` waits for the connection (`otherwise = stash`); anything else not served in the
/// current state is refused (the actor's default, `otherwise = reject`).
#[actor(state = state, otherwise = reject, stash = 100)]
struct Connection {
    state: State,
    log: Vec<String>,
}

#[actor]
impl Connection {
    /// Starts connecting; the handshake runs on a task of its own and comes back as
    /// `handshake_done`, so the mailbox keeps moving meanwhile.
    #[handler(when = Disconnected)]
    fn connect(&mut self, ctx: &mut Context<Self>, peer: String) {
        self.state = State::Connecting { attempt: 1 };
        let me = ctx.myself().typed();
        ctx.pipe_to_self(
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await; // the network
                peer
            },
            move |peer| me.handshake_done(peer).into_message(),
        );
    }

    #[handler(when = Connecting { .. })]
    fn handshake_done(&mut self, ctx: &mut Context<Self>, peer: String) {
        println!(
            "connected to {peer}; {} message(s) were waiting",
            ctx.stashed()
        );
        self.state = State::Connected { peer };
        // Close after 200 ms without traffic.
        ctx.set_receive_timeout(Duration::from_millis(200));
    }

    /// Served only when connected; sent earlier, it waits in the stash.
    #[handler(when = Connected { .. }, otherwise = stash)]
    fn send(&mut self, text: String) -> usize {
        println!("sent {text:?}");
        self.log.push(text);
        self.log.len()
    }

    /// Refused while connecting: the caller learns the state.
    #[handler(when = Disconnected | Connected { .. })]
    fn status(&self) -> State {
        self.state.clone()
    }

    fn on_receive_timeout(&mut self, ctx: &mut Context<Self>) {
        println!("idle for 200 ms: closing");
        self.state = State::Disconnected;
        ctx.cancel_receive_timeout();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let conn = system
        .spawn(|| Connection {
            state: State::Disconnected,
            log: Vec::new(),
        })
        .await?;

    conn.connect("db.internal:5432".into()).await?;
    // Too early: these wait in the stash, in order.
    conn.send("hello".into()).tell().await?;
    conn.send("world".into()).tell().await?;
    // Not served while connecting: refused at once, naming the state.
    match conn.status().await {
        Err(e) => println!("status while connecting -> {e}"),
        Ok(s) => println!("status -> {s:?}"),
    }
    // Stashed behind the other two; answered once they are sent.
    println!("third send -> {}", conn.send("!".into()).await?);
    println!("status -> {:?}", conn.status().await?);

    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("after idling -> {:?}", conn.status().await?);
    system.shutdown().await;
    Ok(())
}
