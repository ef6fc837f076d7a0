//! Where the bytes of an idle actor go: every allocation made while spawning one idle
//! actor (after a warm-up), with its size, and what is still live once it has started.
//! Then whether memory comes back: a million actors spawned, sent a message each, and
//! stopped, with the bytes live in the allocator (and the resident set) at each step.
//!
//! `cargo run --release --bin memprobe` (from `benches/`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use bactor::prelude::*;

struct Counting;

static RECORDING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated and not yet freed, by everyone.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static LOG: Mutex<Vec<(usize, usize, bool)>> = Mutex::new(Vec::new());

thread_local! {
    static IN_LOG: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn record(ptr: *mut u8, size: usize, alloc: bool) {
    if !RECORDING.load(Ordering::Relaxed) {
        return;
    }
    IN_LOG.with(|busy| {
        if busy.replace(true) {
            return;
        }
        if let Ok(mut log) = LOG.lock() {
            log.push((ptr as usize, size, alloc));
        }
        busy.set(false);
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        record(p, layout.size(), true);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        record(ptr, layout.size(), false);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(ptr, layout.size(), false);
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        record(p, new_size, true);
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[actor]
#[derive(Default)]
struct Idle;

#[actor]
impl Idle {
    #[handler]
    fn noop(&self) {}
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let system = ActorSystem::new();
        // Warm up: registries and runtime structures grow on the first spawns.
        let mut keep = Vec::new();
        for _ in 0..1000 {
            keep.push(system.spawn(Idle::default).await.unwrap());
        }
        // Until the warm-up actors have all started.
        for _ in 0..5000 {
            tokio::task::yield_now().await;
        }
        RECORDING.store(true, Ordering::SeqCst);
        let one = system.spawn(Idle::default).await.unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        RECORDING.store(false, Ordering::SeqCst);
        let log = std::mem::take(&mut *LOG.lock().unwrap());
        let mut live: std::collections::BTreeMap<usize, usize> = Default::default();
        let mut allocated = 0;
        for (ptr, size, alloc) in &log {
            if *alloc {
                live.insert(*ptr, *size);
                allocated += size;
            } else {
                live.remove(ptr);
            }
        }
        let mut sizes: Vec<usize> = live.values().copied().collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        println!(
            "one idle actor: {} allocations ({allocated} bytes) while spawning, {} still live: {} bytes",
            log.iter().filter(|e| e.2).count(),
            sizes.len(),
            sizes.iter().sum::<usize>()
        );
        println!("live allocation sizes, largest first: {sizes:?}");
        if std::env::var_os("MEMPROBE_ALL").is_some() {
            let all: Vec<String> = log
                .iter()
                .map(|(p, s, a)| format!("{}{s}@{:x}", if *a { "+" } else { "-" }, p % 0x10000))
                .collect();
            println!("every event: {}", all.join(" "));
        }
        println!(
            "size_of: IdleRef {}, IdleMsg {}",
            std::mem::size_of::<IdleRef>(),
            std::mem::size_of::<IdleMsg>()
        );
        println!("sizes: {:?}", bactor::__private::sizes::<Idle>());
        drop(one);
        drop(keep);
        system.shutdown().await;
    });
    // Raw tokio first: whatever the runtime itself keeps after a million tasks (its run
    // queue grown to a million entries) is then already there for bactor's turn.
    rt.block_on(a_million_raw());
    rt.block_on(a_million());
}

/// The floor: a million raw tokio tasks, each waiting on its own unbounded channel and
/// sent one message, then all ended the same way.
async fn a_million_raw() {
    const N: usize = 1_000_000;
    let (live0, rss0) = (LIVE.load(Ordering::SeqCst), rss());
    let mut txs = Vec::with_capacity(N);
    let mut tasks = Vec::with_capacity(N);
    for _ in 0..N {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u8>();
        tasks.push(tokio::spawn(
            async move { while rx.recv().await.is_some() {} },
        ));
        txs.push(tx);
    }
    for tx in &txs {
        tx.send(1).unwrap();
    }
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let (live1, rss1) = (LIVE.load(Ordering::SeqCst), rss());
    drop(txs);
    for t in tasks {
        t.await.unwrap();
    }
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let (live2, rss2) = (LIVE.load(Ordering::SeqCst), rss());
    let mb = |b: isize| b as f64 / 1e6;
    println!(
        "raw tokio, the same: {:.0} MB live at the peak, {:.2} MB still live after (resident {:.0} then {:.0} MB)",
        mb(live1 - live0),
        mb(live2 - live0),
        mb(rss1 - rss0),
        mb(rss2 - rss0)
    );
}

/// Resident set, from `/proc/self/statm`.
fn rss() -> isize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: isize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// A million actors, each sent one message, then stopped: does the memory come back?
async fn a_million() {
    const N: usize = 1_000_000;
    let system = ActorSystem::new();
    let (live0, rss0) = (LIVE.load(Ordering::SeqCst), rss());
    let mut refs = Vec::with_capacity(N);
    for _ in 0..N {
        refs.push(system.spawn(Idle::default).await.unwrap());
    }
    for r in &refs {
        r.noop().tell().await.unwrap();
    }
    // Every actor has handled its message when its ask-after comes back.
    for r in refs.iter().step_by(1000) {
        r.noop().await.unwrap();
    }
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let (live1, rss1) = (LIVE.load(Ordering::SeqCst), rss());
    for r in &refs {
        r.stop();
    }
    for r in &refs {
        r.stopped().await;
    }
    let refs_bytes = refs.capacity() * std::mem::size_of::<IdleRef>();
    drop(refs);
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let (live2, rss2) = (LIVE.load(Ordering::SeqCst), rss());
    let mb = |b: isize| b as f64 / 1e6;
    println!(
        "\na million actors, one message each: {:.0} MB live in the allocator ({:.0} B per actor, \
         of which {} B the test's own refs), resident {:.0} MB",
        mb(live1 - live0),
        (live1 - live0) as f64 / N as f64,
        refs_bytes / N,
        mb(rss1 - rss0)
    );
    println!(
        "after stopping them all: {:.2} MB still live in the allocator ({:.1} B per stopped actor), \
         resident {:.0} MB (what the allocator keeps for reuse)",
        mb(live2 - live0),
        (live2 - live0) as f64 / N as f64,
        mb(rss2 - rss0)
    );
    system.shutdown().await;
}
