//! The five ways to create an actor.
//!
//! Run with `cargo run --example creation_patterns`.

use bactor::prelude::*;

// 1. Class-based: `#[actor]` on a struct and its impl block.
#[actor]
#[derive(Default)]
struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[handler]
    fn add(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }
}

/// Messages for the closure-based actors; asks carry a `ReplyTo`.
enum Tally {
    Add(i64),
    Total(ReplyTo<i64>),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();

    // 1. class-based (fromClass)
    let class = system.spawn(Counter::default).await?;
    println!("1. class-based:   add(2) -> {}", class.add(2).await?);

    // 2. producer closure (fromProducer): any closure making the state; it runs again on
    //    every restart.
    let start = 100;
    let producer = system
        .spawn_props(Props::from_producer(move || Counter { count: start }).name("producer"))
        .await?;
    println!("2. producer:      add(2) -> {}", producer.add(2).await?);

    // 3. lambda handler (fromHandler): a closure per message, no state of its own.
    let lambda = system
        .spawn_fn(|msg: (String, ReplyTo<usize>)| async move {
            let (text, reply) = msg;
            let _ = reply.send(text.len());
        })
        .await?;
    let len = lambda.ask(|reply| ("hello".to_owned(), reply)).await?;
    println!("3. lambda:        len(\"hello\") -> {len}");

    // 4. stateful closure (fromState): an initial state and a closure updating it.
    let state = system
        .spawn_props(Props::from_state(
            0_i64,
            |sum: &mut i64, msg: Tally| match msg {
                Tally::Add(n) => *sum += n,
                Tally::Total(reply) => {
                    let _ = reply.send(*sum);
                }
            },
        ))
        .await?;
    state.tell(Tally::Add(40)).await?;
    state.tell(Tally::Add(2)).await?;
    println!(
        "4. stateful:      total -> {}",
        state.ask(Tally::Total).await?
    );

    // 5. context-aware closure (fromFunc): the closure also gets the actor's context.
    let func = system
        .spawn_props(Props::from_func(
            |ctx: &mut Context<FuncActor<Tally>>, msg: Tally| match msg {
                Tally::Add(_) => ctx.stop(),
                Tally::Total(reply) => {
                    let _ = reply.send(i64::try_from(ctx.pid().id()).unwrap_or(-1));
                }
            },
        ))
        .await?;
    println!(
        "5. context-aware: my id -> {}",
        func.ask(Tally::Total).await?
    );
    func.tell(Tally::Add(0)).await?; // asks it to stop itself
    func.stopped().await;
    println!("   stopped itself: alive = {}", func.is_alive());

    system.shutdown().await;
    Ok(())
}
