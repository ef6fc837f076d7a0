//! The in-memory store, for tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::query::normalized_tags;
use crate::{
    BoxFuture, EventEnvelope, EventRecord, Journal, NewEvent, OffsetStore, ReadJournal,
    SnapshotCriteria, SnapshotRecord, SnapshotStore, StoreError, now_millis,
};

#[derive(Default)]
struct Entity {
    /// Sequence number to offset, of the events not deleted.
    events: BTreeMap<u64, u64>,
    highest: u64,
    snapshots: BTreeMap<u64, SnapshotRecord>,
}

#[derive(Default)]
struct Data {
    entities: HashMap<String, Entity>,
    /// Every event not deleted, by offset.
    log: BTreeMap<u64, EventEnvelope>,
    by_tag: HashMap<String, BTreeSet<u64>>,
    last_offset: u64,
    projections: HashMap<String, u64>,
}

/// A journal and snapshot store in memory: same semantics as the SQL stores, nothing
/// durable. Cheap to clone (clones share the data).
///
/// # Example
///
/// ```
/// use bactor_persist::{Journal, MemoryStore, NewEvent};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::new();
/// let high = store.append("a", 0, vec![NewEvent::new("E", "1")]).await.unwrap();
/// assert_eq!(high, 1);
/// assert!(store.append("a", 0, vec![NewEvent::new("E", "2")]).await.unwrap_err().is_conflict());
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    data: Arc<Mutex<Data>>,
    committed: Arc<watch::Sender<u64>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            data: Arc::default(),
            committed: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entities", &self.lock().entities.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // Every update below is complete before anything can panic, so a poisoned lock
        // still guards consistent data.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the payload of a stored event (to test how readers handle corruption;
    /// feature `tck`).
    #[cfg(feature = "tck")]
    #[doc(hidden)]
    pub fn corrupt(&self, persistence_id: &str, sequence_nr: u64, payload: &str) {
        let mut data = self.lock();
        let offset = data
            .entities
            .get(persistence_id)
            .and_then(|en| en.events.get(&sequence_nr))
            .copied();
        if let Some(e) = offset.and_then(|o| data.log.get_mut(&o)) {
            e.payload = payload.to_owned();
        }
    }
}

fn record(e: &EventEnvelope) -> EventRecord {
    EventRecord {
        persistence_id: e.persistence_id.clone(),
        sequence_nr: e.sequence_nr,
        manifest: e.manifest.clone(),
        payload: e.payload.clone(),
        written_at: e.written_at,
    }
}

fn take(max: u64) -> usize {
    usize::try_from(max).unwrap_or(usize::MAX)
}

impl Journal for MemoryStore {
    fn append<'a>(
        &'a self,
        persistence_id: &'a str,
        expected: u64,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut guard = self.lock();
            let data = &mut *guard;
            let entity = data.entities.entry(persistence_id.to_owned()).or_default();
            if entity.highest != expected {
                return Err(StoreError::Conflict {
                    persistence_id: persistence_id.to_owned(),
                    expected,
                    actual: entity.highest,
                });
            }
            if events.is_empty() {
                return Ok(expected);
            }
            let now = now_millis();
            for (i, e) in events.into_iter().enumerate() {
                let seq = expected + 1 + i as u64;
                data.last_offset += 1;
                let offset = data.last_offset;
                let tags = normalized_tags(&e.tags);
                for tag in &tags {
                    data.by_tag.entry(tag.clone()).or_default().insert(offset);
                }
                entity.events.insert(seq, offset);
                entity.highest = seq;
                data.log.insert(
                    offset,
                    EventEnvelope {
                        offset,
                        persistence_id: persistence_id.to_owned(),
                        sequence_nr: seq,
                        manifest: e.manifest,
                        payload: e.payload,
                        written_at: now,
                        tags,
                    },
                );
            }
            let (highest, last) = (entity.highest, data.last_offset);
            drop(guard);
            self.committed.send_replace(last);
            Ok(highest)
        })
    }

    fn replay<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        to: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventRecord>, StoreError>> {
        Box::pin(async move {
            let data = self.lock();
            let Some(entity) = data.entities.get(persistence_id) else {
                return Ok(Vec::new());
            };
            if from > to {
                return Ok(Vec::new());
            }
            Ok(entity
                .events
                .range(from..=to)
                .take(take(max))
                .filter_map(|(_, o)| data.log.get(o).map(record))
                .collect())
        })
    }

    fn highest_sequence_nr<'a>(
        &'a self,
        persistence_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .entities
                .get(persistence_id)
                .map_or(0, |e| e.highest))
        })
    }

    fn delete_to<'a>(
        &'a self,
        persistence_id: &'a str,
        to: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut guard = self.lock();
            let data = &mut *guard;
            if let Some(entity) = data.entities.get_mut(persistence_id) {
                let kept = entity.events.split_off(&(to.saturating_add(1)));
                for offset in std::mem::replace(&mut entity.events, kept).into_values() {
                    if let Some(e) = data.log.remove(&offset) {
                        for tag in &e.tags {
                            if let Some(set) = data.by_tag.get_mut(tag) {
                                set.remove(&offset);
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

impl ReadJournal for MemoryStore {
    fn events_by_tag<'a>(
        &'a self,
        tag: &'a str,
        after: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>> {
        Box::pin(async move {
            let data = self.lock();
            let Some(offsets) = data.by_tag.get(tag) else {
                return Ok(Vec::new());
            };
            Ok(offsets
                .range(after.saturating_add(1)..)
                .take(take(max))
                .filter_map(|o| data.log.get(o).cloned())
                .collect())
        })
    }

    fn all_events<'a>(
        &'a self,
        after: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .log
                .range(after.saturating_add(1)..)
                .take(take(max))
                .map(|(_, e)| e.clone())
                .collect())
        })
    }

    fn events_by_id<'a>(
        &'a self,
        persistence_id: &'a str,
        from: u64,
        max: u64,
    ) -> BoxFuture<'a, Result<Vec<EventEnvelope>, StoreError>> {
        Box::pin(async move {
            let data = self.lock();
            let Some(entity) = data.entities.get(persistence_id) else {
                return Ok(Vec::new());
            };
            Ok(entity
                .events
                .range(from..)
                .take(take(max))
                .filter_map(|(_, o)| data.log.get(o).cloned())
                .collect())
        })
    }

    fn highest_offset<'a>(&'a self) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move { Ok(self.lock().last_offset) })
    }

    fn commit_signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.committed.subscribe())
    }
}

impl OffsetStore for MemoryStore {
    fn load_offset<'a>(
        &'a self,
        projection: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async move { Ok(self.lock().projections.get(projection).copied()) })
    }

    fn save_offset<'a>(
        &'a self,
        projection: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock()
                .projections
                .insert(projection.to_owned(), offset);
            Ok(())
        })
    }
}

impl SnapshotStore for MemoryStore {
    fn save<'a>(&'a self, snapshot: SnapshotRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock()
                .entities
                .entry(snapshot.persistence_id.clone())
                .or_default()
                .snapshots
                .insert(snapshot.sequence_nr, snapshot);
            Ok(())
        })
    }

    fn load<'a>(
        &'a self,
        persistence_id: &'a str,
        criteria: SnapshotCriteria,
    ) -> BoxFuture<'a, Result<Option<SnapshotRecord>, StoreError>> {
        Box::pin(async move {
            Ok(self.lock().entities.get(persistence_id).and_then(|e| {
                e.snapshots
                    .values()
                    .rev()
                    .find(|s| criteria.matches(s.sequence_nr, s.created_at))
                    .cloned()
            }))
        })
    }

    fn delete<'a>(
        &'a self,
        persistence_id: &'a str,
        sequence_nr: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if let Some(e) = self.lock().entities.get_mut(persistence_id) {
                e.snapshots.remove(&sequence_nr);
            }
            Ok(())
        })
    }

    fn delete_matching<'a>(
        &'a self,
        persistence_id: &'a str,
        criteria: SnapshotCriteria,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if let Some(e) = self.lock().entities.get_mut(persistence_id) {
                e.snapshots
                    .retain(|_, s| !criteria.matches(s.sequence_nr, s.created_at));
            }
            Ok(())
        })
    }
}
