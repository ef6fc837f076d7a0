//! The queue behind the bounded and unbounded lanes: many senders, one receiver, the
//! messages in blocks of 32 slots. It replaces tokio's channel there, for what an actor's
//! mailbox does most: a tell, and an actor that takes its next message.
//!
//! # Costs
//!
//! - A push is one compare-and-swap on one word (`state`): it checks that the lane is
//!   open and has room, claims the next slot, and learns whether the receiver sleeps. The
//!   message is then written into its slot, which a plain store marks ready. The receiver
//!   is woken only when it sleeps; a busy receiver costs a sender nothing more.
//! - A pop reads the next slot when it is ready: no read-modify-write. A bounded lane
//!   publishes how far the receiver has read (`head`) with a store, and looks (a load)
//!   whether a sender waits for room, every 32 reads (every read under a bound of 256)
//!   and before the receiver sleeps: a receiver on another core does not pull the
//!   senders' cache line to its own at every message.
//! - Going to sleep is one read-modify-write (`SLEEPING` into `state`); the waker stays
//!   in place between sleeps (woken by reference), so it is stored once, not at every
//!   sleep. The sender that wakes the receiver holds a one-bit lock on it (`WAKER`) for
//!   the wake-up: one more read-modify-write, only when the receiver slept.
//! - A block of 32 slots is allocated when the first message reaches it (none before the
//!   first push: an idle actor has none), and given back when the receiver has left it;
//!   one is kept spare, so a steady stream allocates nothing.
//!
//! # Safety: who may touch a block
//!
//! `tail_block` points at the block of the oldest slot a sender may still be writing; a
//! sender walks from it to the block of its slot. It moves past a block only when every
//! slot of that block is written, so every sender still writing has a slot at or after
//! it. A sender may have loaded `tail_block` just before it moved on, and still be
//! walking from the old block: such a sender claimed its slot before that load, so its
//! position is below the tail read right after the move (`released`). A block is
//! therefore freed (or kept spare) only once the receiver has read past `released`: by
//! then every sender that could have seen it has written its slot and left.
//!
//! The receiver's cursor is only touched by the one [`Receiver`] (there is at most one
//! per lane), or by `Drop`, which has the channel to itself: every push in progress
//! holds a reference to it.
//!
//! A claimed slot is always written: nothing between the claim and the write can fail
//! (allocation failure aborts), so the receiver, which waits for the slot at its head,
//! never waits for nothing.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

/// Slots per block.
const BLOCK: usize = 32;
/// No push is admitted any more.
const CLOSED: u64 = 1;
/// The receiver waits for a push: the next one wakes it.
const SLEEPING: u64 = 2;
/// A sender waits for room: the receiver wakes it once the lane is half empty.
const WAITERS: u64 = 4;
/// Held while the receiver's waker is used (by the sender waking it) or replaced (by the
/// receiver): a one-bit lock, almost never contended.
const WAKER: u64 = 8;
/// One claimed slot: the tail position counts above the flags.
const ONE: u64 = 16;
/// The capacity of an unbounded lane.
const UNBOUNDED: u32 = u32::MAX;

/// `WAKER`, held: given back on drop.
struct WakerHeld<'a>(&'a AtomicU64);

impl Drop for WakerHeld<'_> {
    fn drop(&mut self) {
        self.0.fetch_and(!WAKER, Release);
    }
}

/// Waits a moment for `WAKER`, held by another thread for a few instructions (no await
/// in between): spins, then yields the thread in case its holder was preempted.
#[cold]
fn pause(spins: u32) -> u32 {
    if spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
    spins.saturating_add(1)
}

struct Block<T> {
    /// The position of its first slot. Written only while nobody else can reach it.
    start: u64,
    next: AtomicPtr<Block<T>>,
    /// 0 while `tail_block` may point here; then 1 + the tail position read just after
    /// `tail_block` moved on.
    released: AtomicU64,
    ready: [AtomicBool; BLOCK],
    slots: [UnsafeCell<MaybeUninit<T>>; BLOCK],
}

impl<T> Block<T> {
    fn alloc(start: u64) -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            start,
            next: AtomicPtr::new(ptr::null_mut()),
            released: AtomicU64::new(0),
            ready: [const { AtomicBool::new(false) }; BLOCK],
            slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; BLOCK],
        }))
    }

    fn is_written(&self) -> bool {
        self.ready.iter().all(|r| r.load(Acquire))
    }

    fn end(&self) -> u64 {
        self.start + BLOCK as u64
    }
}

/// Why a push was refused; the message comes back.
pub(crate) enum Refused<T> {
    Full(T),
    Closed(T),
}

/// A many-senders, one-receiver queue, bounded or not.
///
/// In this order (`repr(C)`): what every push touches first, the receiver's own place
/// last, more than a cache line apart, so that a receiver on another core does not take
/// the senders' line at every message.
#[repr(C)]
pub(crate) struct Chan<T> {
    /// The tail position (slots claimed so far) above `CLOSED | SLEEPING | WAITERS |
    /// WAKER`.
    state: AtomicU64,
    /// How far the receiver has read, as senders see it without touching its cache
    /// line: published every `PUBLISH` reads (every read under a bound of
    /// `PUBLISH_FROM`) and before it sleeps. Never ahead of `read`.
    head: AtomicU64,
    /// `u32::MAX` for unbounded.
    capacity: u32,
    /// A receiver has claimed the lane.
    received: AtomicBool,
    /// See the module docs; null until the first push.
    tail_block: AtomicPtr<Block<T>>,
    /// The receiver's task; read and written under `WAKER`. It stays after a wake-up:
    /// the same task sleeps with the same waker, which is then not cloned again.
    waker: UnsafeCell<Option<Waker>>,
    /// Senders waiting for room. Shared: the actor's ref state waits here for its
    /// termination too (a waiter always looks again at what it waits for).
    room: Notify,
    /// A block given back, for the next one needed.
    spare: AtomicPtr<Block<T>>,
    /// The oldest block not given back yet: set by the first push, then moved by the
    /// receiver as it gives blocks back.
    first: AtomicPtr<Block<T>>,
    /// The next position to read: written by the receiver alone, read by a sender only
    /// when `head` says the lane is full.
    read: AtomicU64,
    /// The receiver's alone.
    cursor: UnsafeCell<Cursor<T>>,
}

/// The receiver's place.
struct Cursor<T> {
    /// The block of `read`; null until the receiver finds the first.
    block: *mut Block<T>,
    /// Publish `head` when it is a multiple of this (0: never, unbounded); a copy of what
    /// the capacity says, so that reading does not touch the senders' cache line.
    publish_every: u64,
}

/// A bounded lane publishes its head every this many reads...
const PUBLISH: u64 = 32;
/// ...when its bound is at least this; at every read under it.
const PUBLISH_FROM: u32 = 256;

// SAFETY: messages move from senders to the receiver (`T: Send`); the cursor is only
// touched by the one receiver, the slots by their one writer and then the receiver.
unsafe impl<T: Send> Send for Chan<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Chan<T> {}

impl<T> Chan<T> {
    /// A lane holding at most `capacity` messages, or any number with `None`. Allocates
    /// nothing until the first push.
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        // A bound of 4 billion messages is no bound.
        let capacity = capacity.map_or(UNBOUNDED, |n| u32::try_from(n.max(1)).unwrap_or(UNBOUNDED));
        Chan {
            state: AtomicU64::new(0),
            head: AtomicU64::new(0),
            capacity,
            received: AtomicBool::new(false),
            tail_block: AtomicPtr::new(ptr::null_mut()),
            first: AtomicPtr::new(ptr::null_mut()),
            spare: AtomicPtr::new(ptr::null_mut()),
            waker: UnsafeCell::new(None),
            room: Notify::new(),
            read: AtomicU64::new(0),
            cursor: UnsafeCell::new(Cursor {
                block: ptr::null_mut(),
                publish_every: match capacity {
                    UNBOUNDED => 0,
                    n if n < PUBLISH_FROM => 1,
                    _ => PUBLISH,
                },
            }),
        }
    }

    /// Where senders wait for room; woken as room is made and when the lane closes.
    pub(crate) fn room(&self) -> &Notify {
        &self.room
    }

    fn bounded(&self) -> bool {
        self.capacity != UNBOUNDED
    }

    /// Messages queued or being pushed, as seen from anywhere (for introspection).
    pub(crate) fn len(&self) -> u64 {
        (self.state.load(Acquire) / ONE).saturating_sub(self.read.load(Relaxed))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    /// Refuses pushes from now on; queued messages can still be taken. Senders waiting
    /// for room hear it at once.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, SeqCst);
        self.room.notify_waiters();
    }

    /// Whether `tail` leaves no room. The published head says so first (no look at the
    /// receiver's cache line); when it says full, the receiver's own position decides, so
    /// that the bound is exact.
    #[inline]
    fn is_full(&self, tail: u64) -> bool {
        let capacity = u64::from(self.capacity);
        tail.saturating_sub(self.head.load(SeqCst)) >= capacity
            && tail.saturating_sub(self.read.load(SeqCst)) >= capacity
    }

    /// Queues `value` now, or hands it back.
    #[inline]
    pub(crate) fn try_push(&self, value: T) -> Result<(), Refused<T>> {
        let mut spins = 0;
        let mut state = self.state.load(Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Err(Refused::Closed(value));
            }
            if self.bounded() && self.is_full(state / ONE) {
                return Err(Refused::Full(value));
            }
            let mut new = state + ONE;
            if state & SLEEPING != 0 {
                if state & WAKER != 0 {
                    // The waker is in use (another sender is still waking the receiver
                    // from its previous sleep, or it is being replaced): a moment.
                    spins = pause(spins);
                    state = self.state.load(Relaxed);
                    continue;
                }
                // This push wakes the receiver: it takes the waker.
                new = (new & !SLEEPING) | WAKER;
            }
            match self
                .state
                .compare_exchange_weak(state, new, SeqCst, Relaxed)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        let position = state / ONE;
        // SAFETY: the slot at `position` is this sender's alone (claimed above), and its
        // block stays allocated until the receiver has read it (module docs).
        unsafe {
            let block = self.block_for(position);
            let i = (position - (*block).start) as usize;
            (*(*block).slots[i].get()).write(value);
            (*block).ready[i].store(true, Release);
        }
        if state & SLEEPING != 0 {
            // Given back even if the waker panics: others wait for it.
            let held = WakerHeld(&self.state);
            // SAFETY: this sender holds `WAKER`.
            if let Some(waker) = unsafe { &*self.waker.get() } {
                waker.wake_by_ref();
            }
            drop(held);
        }
        Ok(())
    }

    /// Queues `value`, waiting for room while the lane is full (woken when it is half
    /// empty, or empty); hands it back once the lane is closed.
    pub(crate) async fn push(&self, mut value: T) -> Result<(), T> {
        loop {
            match self.try_push(value) {
                Ok(()) => return Ok(()),
                Err(Refused::Closed(back)) => return Err(back),
                Err(Refused::Full(back)) => value = back,
            }
            // Listening before saying so, and trying once more after: a pop either sees
            // `WAITERS` and wakes this, or happened before and left the room found here.
            let room = self.room.notified();
            let mut room = std::pin::pin!(room);
            room.as_mut().enable();
            self.state.fetch_or(WAITERS, SeqCst);
            match self.try_push(value) {
                Ok(()) => return Ok(()),
                Err(Refused::Closed(back)) => return Err(back),
                Err(Refused::Full(back)) => value = back,
            }
            room.await;
        }
    }

    /// The block holding `position`, walking (and growing the list) from `tail_block`.
    ///
    /// # Safety
    /// `position` was claimed by the caller and is not written yet.
    unsafe fn block_for(&self, position: u64) -> *mut Block<T> {
        let mut block = self.tail_block.load(SeqCst);
        if block.is_null() {
            // SAFETY: as for this function.
            block = unsafe { self.first_block() };
        }
        // Whether `block` is still where `tail_block` points, so that moving it on is
        // worth trying.
        let mut at_tail = true;
        loop {
            // SAFETY: `block` is `tail_block` or after it, loaded after this sender
            // claimed its slot: it is not given back before that slot is read.
            let b = unsafe { &*block };
            if position < b.end() {
                return block;
            }
            let mut next = b.next.load(Acquire);
            if next.is_null() {
                // SAFETY: as above.
                next = unsafe { self.grow(block) };
            }
            if at_tail {
                at_tail = b.is_written()
                    && self
                        .tail_block
                        .compare_exchange(block, next, SeqCst, SeqCst)
                        .is_ok();
                if at_tail {
                    // Every sender that loaded `block` from `tail_block` claimed its slot
                    // before this load: below `tail`.
                    let tail = self.state.load(SeqCst) / ONE;
                    b.released.store(tail + 1, Release);
                }
            }
            block = next;
        }
    }

    /// Installs the first block.
    ///
    /// # Safety
    /// As [`block_for`](Chan::block_for).
    #[cold]
    unsafe fn first_block(&self) -> *mut Block<T> {
        let new = self.take_block(0);
        match self
            .tail_block
            .compare_exchange(ptr::null_mut(), new, SeqCst, SeqCst)
        {
            Ok(_) => {
                self.first.store(new, Release);
                new
            }
            Err(current) => {
                // SAFETY: `new` was never published.
                unsafe { self.give_back(new) };
                current
            }
        }
    }

    /// The block after `block`, made now.
    ///
    /// # Safety
    /// `block` is reachable (see [`block_for`](Chan::block_for)).
    #[cold]
    unsafe fn grow(&self, block: *mut Block<T>) -> *mut Block<T> {
        // SAFETY: reachable, per the caller.
        let b = unsafe { &*block };
        let new = self.take_block(b.end());
        match b
            .next
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
        {
            Ok(_) => new,
            Err(next) => {
                // SAFETY: `new` was never published.
                unsafe { self.give_back(new) };
                next
            }
        }
    }

    /// The spare block, or a new one, starting at `start`: the caller's alone until it
    /// publishes it.
    fn take_block(&self, start: u64) -> *mut Block<T> {
        let spare = self.spare.swap(ptr::null_mut(), Acquire);
        if spare.is_null() {
            return Block::alloc(start);
        }
        // SAFETY: the spare block was taken out of `spare`: nobody else has it.
        unsafe { (*spare).start = start };
        spare
    }

    /// Keeps `block` spare (emptied), or frees it.
    ///
    /// # Safety
    /// Nobody else can reach `block`, and its slots hold no message.
    unsafe fn give_back(&self, block: *mut Block<T>) {
        {
            // SAFETY: the caller's alone.
            let b = unsafe { &*block };
            b.next.store(ptr::null_mut(), Relaxed);
            b.released.store(0, Relaxed);
            for ready in &b.ready {
                ready.store(false, Relaxed);
            }
        }
        if self
            .spare
            .compare_exchange(ptr::null_mut(), block, Release, Relaxed)
            .is_err()
        {
            // SAFETY: allocated by `Block::alloc`, and the caller's alone.
            drop(unsafe { Box::from_raw(block) });
        }
    }

    #[cold]
    fn wake_senders(&self) {
        self.state.fetch_and(!WAITERS, SeqCst);
        self.room.notify_waiters();
    }

    /// The slot at the receiver's head, when its message is there.
    ///
    /// # Safety
    /// The caller is the lane's one [`Receiver`].
    #[inline]
    unsafe fn head_slot(&self) -> Option<(&Block<T>, usize)> {
        // SAFETY: the one receiver, per the caller.
        let cursor = unsafe { &mut *self.cursor.get() };
        if cursor.block.is_null() {
            let first = self.first.load(Acquire);
            if first.is_null() {
                return None;
            }
            cursor.block = first;
        }
        let read = self.read.load(Relaxed);
        // SAFETY: the cursor's block is not given back while the cursor is in it.
        let mut block = unsafe { &*cursor.block };
        if read == block.end() {
            let next = block.next.load(Acquire);
            if next.is_null() {
                return None;
            }
            cursor.block = next;
            // SAFETY: as above.
            block = unsafe { &*next };
            self.give_back_read(next, read);
        }
        let i = (read - block.start) as usize;
        block.ready[i].load(Acquire).then_some((block, i))
    }

    /// # Safety
    /// As [`head_slot`](Chan::head_slot).
    #[inline]
    unsafe fn pop(&self) -> Option<T> {
        // SAFETY: per the caller.
        let (block, i) = unsafe { self.head_slot() }?;
        // SAFETY: written (ready) and not read before: the head moves past it now.
        let value = unsafe { (*block.slots[i].get()).assume_init_read() };
        // SAFETY: the one receiver, per the caller.
        let cursor = unsafe { &mut *self.cursor.get() };
        let read = self.read.load(Relaxed) + 1;
        self.read.store(read, Release);
        if cursor.publish_every != 0 && read.is_multiple_of(cursor.publish_every) {
            self.publish(read);
        }
        Some(value)
    }

    /// # Safety
    /// As [`head_slot`](Chan::head_slot).
    unsafe fn ready(&self, cx: &mut Context<'_>) -> Poll<bool> {
        // SAFETY: per the caller.
        if unsafe { self.head_slot() }.is_some() {
            return Poll::Ready(true);
        }
        // SAFETY: per the caller.
        unsafe { self.set_waker(cx.waker()) };
        // SAFETY: per the caller.
        let cursor = unsafe { &*self.cursor.get() };
        let head = self.read.load(Relaxed);
        if cursor.publish_every != 0 {
            self.head.store(head, Release);
        }
        let state = self.state.fetch_or(SLEEPING, SeqCst);
        if state & WAITERS != 0 {
            self.wake_senders();
        }
        if state / ONE != head {
            // A push since the first look: landed, or landing on another thread.
            // SAFETY: per the caller.
            if unsafe { self.head_slot() }.is_some() {
                self.state.fetch_and(!SLEEPING, Relaxed);
                return Poll::Ready(true);
            }
            // Its sender is between its claim and its write; it will not wake this (it
            // claimed before `SLEEPING`): look again soon.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if state & CLOSED != 0 {
            return Poll::Ready(false);
        }
        Poll::Pending
    }

    /// Tells senders how far the receiver has read, and wakes those waiting for room.
    #[inline]
    fn publish(&self, head: u64) {
        self.head.store(head, Release);
        // Senders waiting for room are woken once the lane is half empty, not at the
        // first free slot: each wakes to push many, rather than one wake-up per few
        // messages (a wake-up across threads costs microseconds). A sender that found
        // the lane full between the store and this load is seen at the next
        // publication, or when the receiver goes to sleep.
        let state = self.state.load(Relaxed);
        if state & WAITERS != 0
            && (state / ONE).saturating_sub(head) <= u64::from(self.capacity / 2)
        {
            self.wake_senders();
        }
    }

    /// Makes `waker` the one a push wakes, unless it is that already.
    ///
    /// # Safety
    /// As [`head_slot`](Chan::head_slot).
    #[inline]
    unsafe fn set_waker(&self, waker: &Waker) {
        // SAFETY: only the receiver writes the waker, and this is the receiver.
        if let Some(current) = unsafe { &*self.waker.get() }
            && current.will_wake(waker)
        {
            return;
        }
        // SAFETY: per the caller.
        unsafe { self.replace_waker(waker) }
    }

    /// # Safety
    /// As [`head_slot`](Chan::head_slot).
    #[cold]
    unsafe fn replace_waker(&self, waker: &Waker) {
        let mut spins = 0;
        let mut state = self.state.load(Relaxed);
        loop {
            if state & WAKER != 0 {
                spins = pause(spins);
                state = self.state.load(Relaxed);
                continue;
            }
            match self
                .state
                .compare_exchange_weak(state, state | WAKER, Acquire, Relaxed)
            {
                Ok(_) => break,
                Err(now) => state = now,
            }
        }
        let held = WakerHeld(&self.state);
        // SAFETY: this holds `WAKER`. (A panicking `clone` leaves the old waker.)
        let old = unsafe { (*self.waker.get()).replace(waker.clone()) };
        drop(held);
        drop(old);
    }

    /// Gives back the blocks the receiver has left whose last possible writer is done.
    fn give_back_read(&self, cursor: *mut Block<T>, head: u64) {
        let mut oldest = self.first.load(Relaxed);
        while oldest != cursor {
            // SAFETY: not given back yet, and before the cursor's block.
            let block = unsafe { &*oldest };
            let released = block.released.load(Acquire);
            if released == 0 || released - 1 > head {
                break;
            }
            let next = block.next.load(Acquire);
            // SAFETY: every slot was read, and no sender can reach it (module docs).
            unsafe { self.give_back(oldest) };
            oldest = next;
        }
        self.first.store(oldest, Relaxed);
    }
}

/// The one receiver of a [`Chan`] that lives inside `O` (an actor's shared ref state),
/// kept alive by the `Arc<O>` this holds. It reaches the channel directly: a receiving
/// actor reads nothing of `O` that senders write.
pub(crate) struct Receiver<O, T> {
    /// Inside `*_owner`: valid while `_owner` is held.
    chan: NonNull<Chan<T>>,
    /// Held, not read: it keeps the channel alive and in place.
    _owner: Arc<O>,
}

// SAFETY: a `Receiver` is the channel's one receiving end plus an `Arc<O>`: it moves
// messages out (`T: Send`) and shares `O` (`O: Send + Sync`).
unsafe impl<O: Send + Sync, T: Send> Send for Receiver<O, T> {}

impl<O, T> Receiver<O, T> {
    /// The receiver of the lane `project` finds in `owner`; `None` when it finds none,
    /// or when that lane has a receiver already.
    pub(crate) fn new(
        owner: Arc<O>,
        project: impl for<'a> FnOnce(&'a O) -> Option<&'a Chan<T>>,
    ) -> Option<Self> {
        let chan = project(&owner)?;
        if chan.received.swap(true, Acquire) {
            return None;
        }
        let chan = NonNull::from(chan);
        Some(Receiver {
            chan,
            _owner: owner,
        })
    }

    #[inline]
    fn chan(&self) -> &Chan<T> {
        // SAFETY: the channel is inside `*self._owner` (the projection's lifetime says
        // so), which `self._owner` keeps alive and in place.
        unsafe { self.chan.as_ref() }
    }

    /// The next message, if one is there.
    #[inline]
    pub(crate) fn try_pop(&mut self) -> Option<T> {
        // SAFETY: this is the lane's one receiver (`received`), and `&mut self`.
        unsafe { self.chan().pop() }
    }

    /// `Ready(true)` when a message can be taken, `Ready(false)` once the lane is closed
    /// and empty; otherwise the task is woken by the next push.
    #[inline]
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        // SAFETY: as in `try_pop`.
        unsafe { self.chan().ready(cx) }
    }

    /// The next message; `Ready(None)` once the lane is closed and empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.poll_ready(cx) {
            Poll::Ready(true) => Poll::Ready(self.try_pop()),
            Poll::Ready(false) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Refuses pushes from now on; queued messages can still be taken.
    pub(crate) fn close(&self) {
        self.chan().close();
    }

    /// How many messages are queued or being pushed now: every push that completed
    /// before this call is among them.
    pub(crate) fn queued(&self) -> u64 {
        let chan = self.chan();
        (chan.state.load(Acquire) / ONE).saturating_sub(chan.read.load(Relaxed))
    }
}

impl<O, T> Drop for Receiver<O, T> {
    /// Closes the lane and drops what it holds now (a reply slot inside a message is
    /// dropped, and its asker answered, rather than kept until the last ref goes).
    fn drop(&mut self) {
        self.close();
        while self.try_pop().is_some() {}
        self.chan().received.store(false, Release);
    }
}

impl<T> Drop for Chan<T> {
    fn drop(&mut self) {
        let tail = *self.state.get_mut() / ONE;
        let oldest = *self.first.get_mut();
        let cursor = self.cursor.get_mut();
        let (mut head, mut block) = match cursor.block.is_null() {
            true => (0, oldest),
            false => (*self.read.get_mut(), cursor.block),
        };
        // The messages nobody took. Every claimed slot is written by now: a push in
        // progress would hold a reference to the channel.
        while head < tail && !block.is_null() {
            // SAFETY: this has the channel to itself.
            let b = unsafe { &*block };
            if head == b.end() {
                block = b.next.load(Relaxed);
                continue;
            }
            let i = (head - b.start) as usize;
            if b.ready[i].load(Relaxed) {
                // SAFETY: written and never read.
                unsafe { (*b.slots[i].get()).assume_init_drop() };
            }
            head += 1;
        }
        let mut block = oldest;
        while !block.is_null() {
            // SAFETY: allocated by `Block::alloc`, reachable from nothing else now.
            let b = unsafe { Box::from_raw(block) };
            block = b.next.load(Relaxed);
        }
        let spare = *self.spare.get_mut();
        if !spare.is_null() {
            // SAFETY: as above.
            drop(unsafe { Box::from_raw(spare) });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use std::task::{Context, Poll, Waker};

    use super::{Chan, Receiver, Refused};

    fn receiver<T>(chan: &Arc<Chan<T>>) -> Option<Receiver<Chan<T>, T>> {
        Receiver::new(Arc::clone(chan), |c| Some(c))
    }

    fn pop_all<O, T>(rx: &mut Receiver<O, T>) -> Vec<T> {
        std::iter::from_fn(|| rx.try_pop()).collect()
    }

    #[test]
    fn order_is_kept_across_many_blocks() {
        let chan = Arc::new(Chan::new(None));
        let mut rx = receiver(&chan).unwrap();
        assert!(rx.try_pop().is_none());
        for round in 0..5u64 {
            for i in 0..1_000u64 {
                assert!(chan.try_push(round * 1_000 + i).is_ok());
            }
            let got = pop_all(&mut rx);
            assert_eq!(
                got,
                (round * 1_000..(round + 1) * 1_000).collect::<Vec<_>>()
            );
        }
    }

    /// Exact under a small bound (published at every read) and a large one (published
    /// every 32 reads: a sender that finds it full looks at the receiver's position).
    #[test]
    fn a_bounded_lane_refuses_when_full_and_takes_again_after_a_pop() {
        for cap in [3u32, 1_000] {
            let chan = Arc::new(Chan::new(Some(cap as usize)));
            let mut rx = receiver(&chan).unwrap();
            for i in 0..cap {
                assert!(chan.try_push(i).is_ok());
            }
            assert!(matches!(chan.try_push(cap), Err(Refused::Full(_))));
            assert_eq!(rx.try_pop(), Some(0));
            assert!(chan.try_push(cap).is_ok(), "room for one after one read");
            assert!(matches!(chan.try_push(cap + 1), Err(Refused::Full(_))));
            assert_eq!(pop_all(&mut rx), (1..=cap).collect::<Vec<_>>());
        }
    }

    #[test]
    fn one_receiver_at_a_time_and_its_drop_closes_and_empties_the_lane() {
        let drops = Arc::new(AtomicUsize::new(0));
        let chan = Arc::new(Chan::new(None));
        let rx = receiver(&chan).unwrap();
        assert!(receiver(&chan).is_none());
        assert!(chan.try_push(Tracked(Arc::clone(&drops))).is_ok());
        drop(rx);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            1,
            "dropped with the receiver"
        );
        assert!(chan.is_closed());
        assert!(matches!(
            chan.try_push(Tracked(Arc::clone(&drops))),
            Err(Refused::Closed(_))
        ));
        let mut rx = receiver(&chan).unwrap();
        assert!(rx.try_pop().is_none());
        // A projection that finds no lane makes no receiver.
        assert!(Receiver::<_, u32>::new(Arc::clone(&chan), |_| None).is_none());
    }

    #[tokio::test]
    async fn a_closed_lane_refuses_pushes_and_still_hands_out_what_it_holds() {
        let chan = Arc::new(Chan::new(Some(8)));
        let mut rx = receiver(&chan).unwrap();
        for i in 0..5 {
            assert!(chan.try_push(i).is_ok());
        }
        chan.close();
        assert!(chan.is_closed());
        assert!(matches!(chan.try_push(9), Err(Refused::Closed(9))));
        assert_eq!(chan.push(10).await, Err(10));
        let mut got = Vec::new();
        while let Some(v) = poll_fn(|cx| rx.poll_recv(cx)).await {
            got.push(v);
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }

    /// Counts its drops.
    struct Tracked(Arc<AtomicUsize>);

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn dropping_the_lane_drops_every_message_left_once() {
        for (sent, taken) in [(0, 0), (1, 0), (40, 7), (100, 64), (64, 64), (33, 32)] {
            let drops = Arc::new(AtomicUsize::new(0));
            let chan = Arc::new(Chan::new(None));
            let mut rx = receiver(&chan).unwrap();
            for _ in 0..sent {
                assert!(chan.try_push(Tracked(Arc::clone(&drops))).is_ok());
            }
            for _ in 0..taken {
                drop(rx.try_pop().unwrap());
            }
            assert_eq!(drops.load(Ordering::Relaxed), taken);
            drop(rx);
            drop(chan);
            assert_eq!(
                drops.load(Ordering::Relaxed),
                sent,
                "{sent} sent, {taken} taken"
            );
        }
    }

    #[tokio::test]
    async fn a_sleeping_receiver_is_woken_by_a_push() {
        let chan = Arc::new(Chan::new(Some(4)));
        let mut rx = receiver(&chan).unwrap();
        let sender = Arc::clone(&chan);
        let push = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            assert!(sender.try_push(7u32).is_ok());
        });
        let got = poll_fn(|cx| rx.poll_recv(cx)).await;
        assert_eq!(got, Some(7));
        push.await.unwrap();
    }

    /// Counts its wake-ups.
    struct Count(AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_push_wakes_the_waker_of_the_last_sleep_only_and_only_when_asleep() {
        let chan = Arc::new(Chan::new(None));
        let mut rx = receiver(&chan).unwrap();
        let (a, b) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let (wa, wb) = (Waker::from(Arc::clone(&a)), Waker::from(Arc::clone(&b)));
        let woken = |c: &Arc<Count>| c.0.load(Ordering::Relaxed);
        assert!(rx.poll_ready(&mut Context::from_waker(&wa)).is_pending());
        // The same receiver sleeps again with another waker: that one is woken.
        assert!(rx.poll_ready(&mut Context::from_waker(&wb)).is_pending());
        assert!(chan.try_push(1).is_ok());
        assert_eq!((woken(&a), woken(&b)), (0, 1));
        // Awake (not polled since): further pushes wake nobody.
        assert!(chan.try_push(2).is_ok());
        assert_eq!((woken(&a), woken(&b)), (0, 1));
        let mut cx = Context::from_waker(&wb);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(2)));
        assert!(rx.poll_recv(&mut cx).is_pending());
        assert!(chan.try_push(3).is_ok());
        assert_eq!((woken(&a), woken(&b)), (0, 2));
    }

    #[tokio::test]
    async fn a_sender_waiting_for_room_goes_on_after_a_pop() {
        let chan = Arc::new(Chan::new(Some(1)));
        let mut rx = receiver(&chan).unwrap();
        assert!(chan.try_push(0u32).is_ok());
        let sender = Arc::clone(&chan);
        let waiting = tokio::spawn(async move { sender.push(1).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the lane is full: the push waits");
        assert_eq!(rx.try_pop(), Some(0));
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert_eq!(rx.try_pop(), Some(1));
    }

    /// A waiting sender is woken once the lane is half empty (at a publication: every
    /// 32 reads under a large bound), not at the first free slot.
    #[tokio::test]
    async fn a_waiting_sender_goes_on_once_the_lane_is_half_empty() {
        let chan = Arc::new(Chan::new(Some(1_000)));
        let mut rx = receiver(&chan).unwrap();
        for i in 0..1_000u32 {
            assert!(chan.try_push(i).is_ok());
        }
        let sender = Arc::clone(&chan);
        let waiting = tokio::spawn(async move { sender.push(1_000).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        for i in 0..511 {
            assert_eq!(rx.try_pop(), Some(i));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(
            !waiting.is_finished(),
            "not half empty at the last publication (480 read)"
        );
        assert_eq!(rx.try_pop(), Some(511));
        assert_eq!(waiting.await.unwrap(), Ok(()));
        let rest: Vec<u32> = std::iter::from_fn(|| rx.try_pop()).collect();
        assert_eq!(rest, (512..=1_000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn closing_wakes_the_senders_waiting_for_room() {
        let chan = Arc::new(Chan::new(Some(1)));
        let mut _rx = receiver(&chan).unwrap();
        assert!(chan.try_push(0u32).is_ok());
        let sender = Arc::clone(&chan);
        let waiting = tokio::spawn(async move { sender.push(1).await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        chan.close();
        assert_eq!(waiting.await.unwrap(), Err(1));
    }

    /// Senders on several threads into one receiver on another: every message arrives
    /// once, each sender's in its order; with a bound, senders wait for room; with a close
    /// part-way, every message is either received or handed back.
    fn stress(capacity: Option<usize>, close_after: Option<usize>) {
        const SENDERS: u64 = 4;
        const EACH: u64 = 50_000;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        rt.block_on(async {
            let chan = Arc::new(Chan::new(capacity));
            let mut rx = receiver(&chan).unwrap();
            let senders: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let chan = Arc::clone(&chan);
                    tokio::spawn(async move {
                        let mut refused = 0u64;
                        for i in 0..EACH {
                            let sent = if i % 3 == 0 {
                                chan.push((s, i)).await.is_ok()
                            } else {
                                let mut v = (s, i);
                                loop {
                                    match chan.try_push(v) {
                                        Ok(()) => break true,
                                        Err(Refused::Closed(_)) => break false,
                                        Err(Refused::Full(back)) => {
                                            v = back;
                                            tokio::task::yield_now().await;
                                        }
                                    }
                                }
                            };
                            if !sent {
                                refused += 1;
                            }
                        }
                        refused
                    })
                })
                .collect();
            let receiver = tokio::spawn(async move {
                let mut next = [0u64; SENDERS as usize];
                let mut received = 0usize;
                loop {
                    if close_after == Some(received) {
                        chan.close();
                    }
                    let Some((s, i)) = poll_fn(|cx| rx.poll_recv(cx)).await else {
                        break;
                    };
                    assert_eq!(i, next[s as usize], "sender {s}'s messages in order");
                    next[s as usize] += 1;
                    received += 1;
                    if close_after.is_none() && received as u64 == SENDERS * EACH {
                        break;
                    }
                }
                received as u64
            });
            let received = receiver.await.unwrap();
            let mut refused = 0;
            for sender in senders {
                refused += sender.await.unwrap();
            }
            assert_eq!(received + refused, SENDERS * EACH);
            if close_after.is_none() {
                assert_eq!(refused, 0);
            }
        });
    }

    #[test]
    fn stress_unbounded() {
        stress(None, None);
    }

    #[test]
    fn stress_bounded() {
        stress(Some(16), None);
    }

    /// A bound of 256 or more publishes the head every 32 reads.
    #[test]
    fn stress_bounded_publishing_every_32_reads() {
        stress(Some(300), None);
        stress(Some(256), Some(60_000));
    }

    #[test]
    fn stress_bounded_by_one() {
        stress(Some(1), None);
    }

    #[test]
    fn stress_closed_part_way() {
        stress(Some(64), Some(70_000));
        stress(None, Some(1_000));
    }
}
