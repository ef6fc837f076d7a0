//! The in-memory store, for tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{
    BoxFuture, EventRecord, Journal, NewEvent, SnapshotCriteria, SnapshotRecord, SnapshotStore,
    StoreError, now_millis,
};

#[derive(Default)]
struct Entity {
    events: BTreeMap<u64, EventRecord>,
    highest: u64,
    snapshots: BTreeMap<u64, SnapshotRecord>,
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
#[derive(Clone, Default)]
pub struct MemoryStore {
    entities: Arc<Mutex<HashMap<String, Entity>>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entities", &self.lock().len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entity>> {
        // Every update below is complete before anything can panic, so a poisoned lock
        // still guards consistent data.
        self.entities.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the payload of a stored event (to test how readers handle corruption;
    /// feature `tck`).
    #[cfg(feature = "tck")]
    #[doc(hidden)]
    pub fn corrupt(&self, persistence_id: &str, sequence_nr: u64, payload: &str) {
        if let Some(e) = self
            .lock()
            .get_mut(persistence_id)
            .and_then(|en| en.events.get_mut(&sequence_nr))
        {
            e.payload = payload.to_owned();
        }
    }
}

impl Journal for MemoryStore {
    fn append<'a>(
        &'a self,
        persistence_id: &'a str,
        expected: u64,
        events: Vec<NewEvent>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut map = self.lock();
            let entity = map.entry(persistence_id.to_owned()).or_default();
            if entity.highest != expected {
                return Err(StoreError::Conflict {
                    persistence_id: persistence_id.to_owned(),
                    expected,
                    actual: entity.highest,
                });
            }
            let now = now_millis();
            for (i, e) in events.into_iter().enumerate() {
                let seq = expected + 1 + i as u64;
                entity.events.insert(
                    seq,
                    EventRecord {
                        persistence_id: persistence_id.to_owned(),
                        sequence_nr: seq,
                        manifest: e.manifest,
                        payload: e.payload,
                        written_at: now,
                    },
                );
                entity.highest = seq;
            }
            Ok(entity.highest)
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
            let map = self.lock();
            let Some(entity) = map.get(persistence_id) else {
                return Ok(Vec::new());
            };
            if from > to {
                return Ok(Vec::new());
            }
            Ok(entity
                .events
                .range(from..=to)
                .take(usize::try_from(max).unwrap_or(usize::MAX))
                .map(|(_, e)| e.clone())
                .collect())
        })
    }

    fn highest_sequence_nr<'a>(
        &'a self,
        persistence_id: &'a str,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move { Ok(self.lock().get(persistence_id).map_or(0, |e| e.highest)) })
    }

    fn delete_to<'a>(
        &'a self,
        persistence_id: &'a str,
        to: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if let Some(entity) = self.lock().get_mut(persistence_id) {
                entity.events.retain(|&seq, _| seq > to);
            }
            Ok(())
        })
    }
}

impl SnapshotStore for MemoryStore {
    fn save<'a>(&'a self, snapshot: SnapshotRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock()
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
            Ok(self.lock().get(persistence_id).and_then(|e| {
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
            if let Some(e) = self.lock().get_mut(persistence_id) {
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
            if let Some(e) = self.lock().get_mut(persistence_id) {
                e.snapshots
                    .retain(|_, s| !criteria.matches(s.sequence_nr, s.created_at));
            }
            Ok(())
        })
    }
}
