//! Deferred replies: a cache actor that answers asks for a missing key only when the
//! (slow) fetch for it is done, fetching each key once however many ask for it, and
//! staying free for other messages meanwhile.
//!
//! `cargo run --example deferred_replies`

use std::collections::HashMap;
use std::time::Duration;

use bactor::prelude::*;

#[actor]
#[derive(Default)]
struct Cache {
    values: HashMap<String, String>,
    /// Asks waiting for a fetch in progress, by key.
    waiting: HashMap<String, Vec<ReplyTo<String>>>,
    fetches: u32,
}

#[actor]
impl Cache {
    /// The value of `key`: at once if cached, else when its fetch is done.
    #[handler]
    fn get(&mut self, ctx: &mut Context<Self>, key: String, reply: ReplyTo<String>) {
        if let Some(value) = self.values.get(&key) {
            let _ = reply.send(value.clone());
            return;
        }
        let first = !self.waiting.contains_key(&key);
        self.waiting.entry(key.clone()).or_default().push(reply);
        if first {
            self.fetches += 1;
            // The fetch runs in a task; its result comes back as a message.
            let me = ctx.myself().typed();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let value = format!("value of {key}");
                let _ = me.fetched(key, value).tell().await;
            });
        }
    }

    /// A fetch is done: answer everyone who waited for it.
    #[handler]
    fn fetched(&mut self, key: String, value: String) {
        for reply in self.waiting.remove(&key).unwrap_or_default() {
            let _ = reply.send(value.clone());
        }
        self.values.insert(key, value);
    }

    #[handler]
    fn fetches(&self) -> u32 {
        self.fetches
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let cache = system.spawn(Cache::default).await?;

    // Ten asks for the same key at once: one fetch, ten answers.
    let asks: Vec<_> = (0..10)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get("config".into()).await })
        })
        .collect();
    // Meanwhile the actor serves other messages.
    println!(
        "the actor answers other asks meanwhile (fetches started: {})",
        cache.fetches().await?
    );
    for ask in asks {
        assert_eq!(ask.await??, "value of config");
    }
    println!("10 asks answered by {} fetch", cache.fetches().await?);
    // Cached now: answered at once.
    println!("again: {}", cache.get("config".into()).await?);

    system.shutdown().await;
    Ok(())
}
