//! Where the bytes of an idle actor go: every allocation made while spawning one idle
//! actor (after a warm-up), with its size, and what is still live once it has started.
//!
//! `cargo run --release --bin memprobe` (from `benches/`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use bactor::prelude::*;

struct Counting;

static RECORDING: AtomicBool = AtomicBool::new(false);
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
        record(p, layout.size(), true);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(ptr, layout.size(), false);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(ptr, layout.size(), false);
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
}
