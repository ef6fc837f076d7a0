//! Reading the journal across persistence ids: the read side of event sourcing (Akka
//! Persistence Query's model).
//!
//! Every stored event has an **offset**: its position in one ordering of the whole
//! journal, from 1, increasing in the order the events were committed. A reader that has
//! seen offset `n` asks for the events after `n` and never misses one that commits later:
//!
//! - SQLite has one writer at a time; each insert numbers its events after the highest
//!   offset in the file, under the write lock.
//! - Postgres numbers events from a sequence, once per insert, while holding a
//!   transaction-level advisory lock (taken by every insert of every bactor store on the
//!   database, released at commit): a transaction cannot take numbers before an earlier
//!   one is visible, so concurrent writers never commit out of order. Numbers of
//!   rolled-back inserts leave permanent gaps, which readers pass without waiting.
//! - [`MemoryStore`](crate::MemoryStore) counts under its lock.
//!
//! Deleted events ([`Journal::delete_to`]) are not delivered. Offsets are stable: a
//! projection can store the last one it handled and resume after it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;

use crate::{BoxFuture, Journal, StoreError};

/// An event as queries deliver it: where it is in the whole journal (`offset`) and in its
/// persistence id's (`sequence_nr`), what it is and how it was tagged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventEnvelope {
    /// Its position in the whole journal, from 1 (see the [module](crate::ReadJournal)).
    pub offset: u64,
    /// Whose event it is.
    pub persistence_id: String,
    /// Its position in that persistence id's journal, from 1.
    pub sequence_nr: u64,
    /// What the payload is.
    pub manifest: String,
    /// The event, as JSON text.
    pub payload: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub written_at: i64,
    /// The tags it was stored with, sorted.
    pub tags: Vec<String>,
}

/// The queries of a journal that read models are built from: events by tag, all events,
/// events of one persistence id, each as a page after an offset. [`EventStream`] turns
/// them into finite or live streams, and [`Projection`](crate::Projection) into read
/// models that resume where they stopped.
///
/// Offsets are described on [`EventEnvelope::offset`]; every page is in offset order
/// (sequence-number order for one id) and leaves deleted events out.
///
/// # Example
///
/// ```
/// use bactor_persist::{Journal, MemoryStore, NewEvent, ReadJournal};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), bactor_persist::StoreError> {
/// let store = MemoryStore::new();
/// store.append("a", 0, vec![NewEvent::new("Opened", "{}").tagged(["account"])]).await?;
/// store.append("b", 0, vec![NewEvent::new("Opened", "{}")]).await?;
/// let tagged = store.events_by_tag("account", 0, 100).await?;
/// assert_eq!(tagged.len(), 1);
/// assert_eq!((tagged[0].persistence_id.as_str(), tagged[0].offset), ("a", 1));
/// assert_eq!(store.all_events(1, 100).await?[0].persistence_id, "b");
/// # Ok(()) }
/// ```
pub trait ReadJournal: Journal {
    /// Events tagged `tag` with an offset above `after`, oldest first, at most `max`.
    fn events_by_tag<'a>(
        &'a self,
        tag: &'a str,
        after: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>>;

    /// All events with an offset above `after`, oldest first, at most `max`.
    fn all_events<'a>(
        &'a self,
        after: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>>;

    /// The events of `persistence_id` from sequence number `from` on, at most `max`.
    fn events_by_id<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>>;

    /// The highest offset written (`0` for an empty journal), deleted events included.
    fn highest_offset<'a>(&'a self) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Changes whenever this store (this process) commits events, so live streams need
    /// not wait for their next poll. Writes by other processes are found by polling.
    /// `None` if the store cannot tell.
    fn commit_signal(&self) -> Option<watch::Receiver<u64>> {
        None
    }
}

/// Where projections keep the offset they have handled up to.
///
/// # Example
///
/// ```
/// use bactor_persist::{MemoryStore, OffsetStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), bactor_persist::StoreError> {
/// let store = MemoryStore::new();
/// assert_eq!(store.load_offset("balances").await?, None);
/// store.save_offset("balances", 42).await?;
/// assert_eq!(store.load_offset("balances").await?, Some(42));
/// # Ok(()) }
/// ```
pub trait OffsetStore: Send + Sync + 'static {
    /// The offset saved for `projection`, `None` if it never saved one.
    fn load_offset<'a>(
        &'a self,
        projection: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>>;

    /// Saves (or replaces) the offset of `projection`.
    fn save_offset<'a>(
        &'a self,
        projection: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// What a stream yields.
type Item = Result<EventEnvelope, StoreError>;

/// Which events a stream reads.
#[derive(Clone, Debug)]
enum Source {
    Tag(String),
    All,
    Id(String),
}

/// A stream of events from a [`ReadJournal`]: by tag, all, or of one persistence id;
/// **finite** (the events stored when it started, Akka's `currentEventsByTag`) or
/// **live** ([`live`](EventStream::live): then it waits for new ones, Akka's
/// `eventsByTag`).
///
/// Read it with [`next`](EventStream::next), or as a [`futures_core::Stream`]. A store
/// error is returned as an item; the next call tries again from the same place, so a
/// reader may retry through an outage (or stop).
///
/// A live stream learns of this process's commits at once
/// ([`ReadJournal::commit_signal`]) and polls for the others' (every 500 ms by default,
/// [`poll_interval`](EventStream::poll_interval)).
///
/// # Example
///
/// ```
/// use bactor_persist::{EventStream, Journal, MemoryStore, NewEvent};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), bactor_persist::StoreError> {
/// let store = MemoryStore::new();
/// for id in ["a", "b"] {
///     store.append(id, 0, vec![NewEvent::new("Opened", "{}").tagged(["account"])]).await?;
/// }
/// let mut stream = EventStream::by_tag(store.clone(), "account", 0);
/// let mut seen = Vec::new();
/// while let Some(event) = stream.next().await {
///     seen.push(event?.persistence_id);
/// }
/// assert_eq!(seen, ["a", "b"]);
/// # Ok(()) }
/// ```
pub struct EventStream {
    state: Option<Box<State>>,
    pending: Option<BoxFuture<'static, (Box<State>, Option<Item>)>>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("EventStream");
        if let Some(s) = &self.state {
            d.field("source", &s.source)
                .field("after", &s.after)
                .field("live", &s.live);
        }
        d.finish_non_exhaustive()
    }
}

struct State {
    journal: Arc<dyn ReadJournal>,
    source: Source,
    /// The last offset delivered (the last sequence number, for one id).
    after: u64,
    live: bool,
    /// For a finite stream, where it ends; read on the first fetch.
    end: Option<u64>,
    page: u64,
    poll: Duration,
    buffer: VecDeque<EventEnvelope>,
    signal: Option<watch::Receiver<u64>>,
    /// The last fetch came back short: a live stream waits before the next.
    caught_up: bool,
    done: bool,
}

impl EventStream {
    /// Events tagged `tag` with an offset above `after` (`0`: from the start).
    pub fn by_tag(journal: impl ReadJournal, tag: impl Into<String>, after: u64) -> Self {
        Self::new(Arc::new(journal), Source::Tag(tag.into()), after)
    }

    /// All events with an offset above `after`.
    pub fn all(journal: impl ReadJournal, after: u64) -> Self {
        Self::new(Arc::new(journal), Source::All, after)
    }

    /// The events of `persistence_id` after sequence number `after` (`0`: from the first).
    /// Their envelopes carry offsets too; the stream's position is the sequence number.
    pub fn by_id(journal: impl ReadJournal, persistence_id: impl Into<String>, after: u64) -> Self {
        Self::new(Arc::new(journal), Source::Id(persistence_id.into()), after)
    }

    fn new(journal: Arc<dyn ReadJournal>, source: Source, after: u64) -> Self {
        EventStream {
            state: Some(Box::new(State {
                journal,
                source,
                after,
                live: false,
                end: None,
                page: 1000,
                poll: Duration::from_millis(500),
                buffer: VecDeque::new(),
                signal: None,
                caught_up: false,
                done: false,
            })),
            pending: None,
        }
    }

    fn configure(mut self, f: impl FnOnce(&mut State)) -> Self {
        if let Some(s) = self.state.as_deref_mut() {
            f(s);
        }
        self
    }

    /// Keeps following the journal after the stored events: the stream never ends.
    pub fn live(self) -> Self {
        self.configure(|s| s.live = true)
    }

    /// How often a live stream asks the store for events written by other processes
    /// (500 ms by default; this process's commits wake it at once).
    pub fn poll_interval(self, every: Duration) -> Self {
        self.configure(|s| s.poll = every.max(Duration::from_millis(1)))
    }

    /// How many events one query reads (1000 by default).
    pub fn page_size(self, events: u64) -> Self {
        self.configure(|s| s.page = events.max(1))
    }

    /// The next event; `None` when a finite stream has delivered everything it covers.
    pub async fn next(&mut self) -> Option<Result<EventEnvelope, StoreError>> {
        std::future::poll_fn(|cx| self.poll_step(cx)).await
    }

    /// The next events, as many as were read together (up to a
    /// [`page_size`](EventStream::page_size)): for readers that handle events in batches.
    /// `None` when a finite stream is done.
    pub async fn next_page(&mut self) -> Option<Result<Vec<EventEnvelope>, StoreError>> {
        match self.next().await? {
            Err(e) => Some(Err(e)),
            Ok(first) => {
                let mut page = vec![first];
                if let Some(state) = self.state.as_deref_mut() {
                    page.extend(state.buffer.drain(..));
                }
                Some(Ok(page))
            }
        }
    }

    fn poll_step(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<EventEnvelope, StoreError>>> {
        if self.pending.is_none() {
            let Some(mut state) = self.state.take() else {
                return Poll::Ready(None);
            };
            // Most calls are served from the page already read.
            if let Some(event) = state.buffer.pop_front() {
                self.state = Some(state);
                return Poll::Ready(Some(Ok(event)));
            }
            self.pending = Some(Box::pin(async move {
                let item = state.fetch().await;
                (state, item)
            }));
        }
        let Some(pending) = self.pending.as_mut() else {
            return Poll::Ready(None);
        };
        match pending.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((state, item)) => {
                self.pending = None;
                self.state = Some(state);
                Poll::Ready(item)
            }
        }
    }
}

impl futures_core::Stream for EventStream {
    type Item = Result<EventEnvelope, StoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_step(cx)
    }
}

impl State {
    /// Reads until there is an event to deliver, the finite stream ends, or the store
    /// fails.
    async fn fetch(&mut self) -> Option<Result<EventEnvelope, StoreError>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if self.live && self.caught_up {
                self.wait().await;
            } else if self.live && self.signal.is_none() {
                self.signal = self.journal.commit_signal();
            }
            if !self.live && self.end.is_none() {
                self.end = Some(match self.end_position().await {
                    Ok(end) => end,
                    Err(e) => return Some(Err(e)),
                });
            }
            if let Some(end) = self.end
                && self.after >= end
            {
                self.done = true;
                return None;
            }
            // Marked seen before the read: a commit after it wakes the next wait.
            if let Some(signal) = &mut self.signal {
                signal.borrow_and_update();
            }
            let page = match self.read_page().await {
                Ok(page) => page,
                Err(e) => return Some(Err(e)),
            };
            self.caught_up = (page.len() as u64) < self.page;
            for event in page {
                let position = match self.source {
                    Source::Id(_) => event.sequence_nr,
                    _ => event.offset,
                };
                if self.end.is_some_and(|end| position > end) {
                    // Written after a finite stream started: not its business.
                    self.done = true;
                    break;
                }
                self.after = position;
                self.buffer.push_back(event);
            }
            if !self.live && self.caught_up && self.buffer.is_empty() {
                self.done = true;
            }
        }
    }

    async fn end_position(&self) -> Result<u64, StoreError> {
        match &self.source {
            Source::Id(id) => self.journal.highest_sequence_nr(id).await,
            _ => self.journal.highest_offset().await,
        }
    }

    async fn read_page(&self) -> Result<Vec<EventEnvelope>, StoreError> {
        let j = &*self.journal;
        match &self.source {
            Source::Tag(tag) => j.events_by_tag(tag, self.after, self.page).await,
            Source::All => j.all_events(self.after, self.page).await,
            Source::Id(id) => {
                j.events_by_id(id, self.after.saturating_add(1), self.page)
                    .await
            }
        }
    }

    /// Waits for this store's next commit or the poll interval, whichever is first.
    async fn wait(&mut self) {
        let sleep = tokio::time::sleep(self.poll);
        tokio::pin!(sleep);
        match &mut self.signal {
            Some(signal) => {
                tokio::select! {
                    changed = signal.changed() => {
                        if changed.is_err() {
                            // The store is gone from this process: poll only.
                            self.signal = None;
                            (&mut sleep).await;
                        }
                    }
                    () = &mut sleep => {}
                }
            }
            None => sleep.await,
        }
    }
}

/// Tags as stored: sorted, each once, as a JSON array; `None` for no tags.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn encode_tags(tags: &[String]) -> Option<String> {
    if tags.is_empty() {
        return None;
    }
    let mut sorted: Vec<&str> = tags.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    serde_json::to_string(&sorted).ok()
}

/// Stored tags back as a list.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn decode_tags(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// A sorted, deduplicated copy of `tags`.
pub(crate) fn normalized_tags(tags: &[String]) -> Vec<String> {
    let mut t = tags.to_vec();
    t.sort_unstable();
    t.dedup();
    t
}
