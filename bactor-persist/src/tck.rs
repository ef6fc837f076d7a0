//! The conformance suite every backend passes: the journal and snapshot-store cases of
//! Akka's persistence TCK, plus atomic batches and optimistic concurrency, and the query
//! cases (events by tag, all events, events by id, finite and live streams, projection
//! offsets).
//!
//! Each case is a function over a store; [`tck_tests!`](crate::tck_tests) turns them into
//! one `#[tokio::test]` each for a backend. A case uses fresh persistence ids, so one
//! database can serve every case and every run. A case panics (fails the test) on the first
//! mismatch.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = bactor_persist::MemoryStore::new();
//! bactor_persist::tck::replay_all(&store).await; // panics on the first mismatch
//! bactor_persist::tck::conflicting_append_is_refused(&store).await;
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{
    EventEnvelope, EventHandler, EventStream, HandlerError, Journal, NewEvent, OffsetStore,
    Projection, ProjectionError, ReadJournal, SnapshotCriteria, SnapshotRecord, SnapshotStore,
};

/// A persistence id no earlier case or run has used.
pub fn fresh_id(case: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "tck-{case}-{}-{}-{}",
        std::process::id(),
        crate::now_millis(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The JSON payload of test event `n`: a JSON string, returned byte for byte.
fn payload(n: u64) -> String {
    format!("\"e-{n}\"")
}

fn event(n: u64) -> NewEvent {
    NewEvent::new("tck.Event", payload(n))
}

/// A journal holding events 1..=5; 4 and 5 were written as one atomic batch.
async fn prefilled<J: Journal>(j: &J, case: &str) -> String {
    let id = fresh_id(case);
    for n in 1..=3 {
        assert_eq!(
            j.append(&id, n - 1, vec![event(n)]).await.expect("append"),
            n
        );
    }
    assert_eq!(
        j.append(&id, 3, vec![event(4), event(5)])
            .await
            .expect("append batch"),
        5
    );
    id
}

async fn seqs<J: Journal>(j: &J, id: &str, from: u64, to: u64, max: u64) -> Vec<u64> {
    let events = j.replay(id, from, to, max).await.expect("replay");
    for e in &events {
        assert_eq!(e.persistence_id, id);
        assert_eq!(e.manifest, "tck.Event");
        assert_eq!(
            e.payload,
            payload(e.sequence_nr),
            "payload of event {}",
            e.sequence_nr
        );
    }
    events.iter().map(|e| e.sequence_nr).collect()
}

/// Replays all events.
pub async fn replay_all<J: Journal>(j: &J) {
    let id = prefilled(j, "all").await;
    assert_eq!(seqs(j, &id, 1, u64::MAX, u64::MAX).await, [1, 2, 3, 4, 5]);
}

/// Replays from a lower bound.
pub async fn replay_from_lower_bound<J: Journal>(j: &J) {
    let id = prefilled(j, "lower").await;
    assert_eq!(seqs(j, &id, 3, u64::MAX, u64::MAX).await, [3, 4, 5]);
}

/// Replays to an upper bound.
pub async fn replay_to_upper_bound<J: Journal>(j: &J) {
    let id = prefilled(j, "upper").await;
    assert_eq!(seqs(j, &id, 1, 3, u64::MAX).await, [1, 2, 3]);
}

/// Replays with a maximum count.
pub async fn replay_with_max_count<J: Journal>(j: &J) {
    let id = prefilled(j, "max").await;
    assert_eq!(seqs(j, &id, 1, u64::MAX, 3).await, [1, 2, 3]);
}

/// Replays between both bounds.
pub async fn replay_with_both_bounds<J: Journal>(j: &J) {
    let id = prefilled(j, "both").await;
    assert_eq!(seqs(j, &id, 2, 4, u64::MAX).await, [2, 3, 4]);
}

/// Replays between both bounds with a count.
pub async fn replay_with_bounds_and_count<J: Journal>(j: &J) {
    let id = prefilled(j, "both-count").await;
    assert_eq!(seqs(j, &id, 2, 5, 2).await, [2, 3]);
}

/// Replays a single event when the lower bound equals the upper bound.
pub async fn replay_single_when_bounds_equal<J: Journal>(j: &J) {
    let id = prefilled(j, "equal").await;
    assert_eq!(seqs(j, &id, 3, 3, u64::MAX).await, [3]);
}

/// Replays a single event when the count is 1.
pub async fn replay_single_when_count_is_one<J: Journal>(j: &J) {
    let id = prefilled(j, "one").await;
    assert_eq!(seqs(j, &id, 1, u64::MAX, 1).await, [1]);
}

/// Replays nothing when the count is 0.
pub async fn replay_nothing_when_count_is_zero<J: Journal>(j: &J) {
    let id = prefilled(j, "zero").await;
    assert!(seqs(j, &id, 1, u64::MAX, 0).await.is_empty());
}

/// Replays nothing when the lower bound exceeds the upper bound.
pub async fn replay_nothing_when_lower_exceeds_upper<J: Journal>(j: &J) {
    let id = prefilled(j, "inverted").await;
    assert!(seqs(j, &id, 3, 2, u64::MAX).await.is_empty());
}

/// Replays nothing for an unknown persistence id.
pub async fn replay_nothing_for_unknown_id<J: Journal>(j: &J) {
    let id = fresh_id("unknown");
    assert!(seqs(j, &id, 1, u64::MAX, u64::MAX).await.is_empty());
    assert_eq!(j.highest_sequence_nr(&id).await.expect("highest"), 0);
}

/// Reads the highest sequence number without replaying.
pub async fn highest_sequence_nr<J: Journal>(j: &J) {
    let id = prefilled(j, "highest").await;
    assert_eq!(j.highest_sequence_nr(&id).await.expect("highest"), 5);
}

/// Does not replay deleted events.
pub async fn deleted_events_are_not_replayed<J: Journal>(j: &J) {
    let id = prefilled(j, "deleted").await;
    j.delete_to(&id, 3).await.expect("delete");
    assert_eq!(seqs(j, &id, 1, u64::MAX, u64::MAX).await, [4, 5]);
}

/// Does not reset the highest sequence number after deleting everything.
pub async fn highest_sequence_nr_survives_deletion<J: Journal>(j: &J) {
    let id = prefilled(j, "highest-deleted").await;
    j.delete_to(&id, 5).await.expect("delete");
    assert!(seqs(j, &id, 1, u64::MAX, u64::MAX).await.is_empty());
    assert_eq!(j.highest_sequence_nr(&id).await.expect("highest"), 5);
    // A stale writer that believes in an earlier sequence number is still refused...
    assert!(
        j.append(&id, 3, vec![event(4)])
            .await
            .expect_err("stale")
            .is_conflict()
    );
    // ...and the journal goes on after 5.
    assert_eq!(j.append(&id, 5, vec![event(6)]).await.expect("append"), 6);
    assert_eq!(seqs(j, &id, 1, u64::MAX, u64::MAX).await, [6]);
}

/// A batch is written whole or not at all.
pub async fn atomic_batch_is_all_or_nothing<J: Journal>(j: &J) {
    let id = prefilled(j, "atomic").await;
    // Refused as a whole: none of 6, 7, 8 may appear.
    let stale = j
        .append(&id, 4, vec![event(5), event(6), event(7)])
        .await
        .expect_err("stale batch");
    assert!(stale.is_conflict());
    assert_eq!(seqs(j, &id, 1, u64::MAX, u64::MAX).await, [1, 2, 3, 4, 5]);
    assert_eq!(
        j.append(&id, 5, vec![event(6), event(7), event(8)])
            .await
            .expect("batch"),
        8
    );
    assert_eq!(seqs(j, &id, 6, u64::MAX, u64::MAX).await, [6, 7, 8]);
}

/// A writer whose view is stale is refused with a conflict; nothing interleaves.
pub async fn conflicting_append_is_refused<J: Journal>(j: &J) {
    let id = fresh_id("conflict");
    assert_eq!(
        j.append(&id, 0, vec![event(1)])
            .await
            .expect("first writer"),
        1
    );
    match j.append(&id, 0, vec![event(1)]).await {
        Err(crate::StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (0, 1)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(seqs(j, &id, 1, u64::MAX, u64::MAX).await, [1]);
}

/// Polls every future in turn until all are done: they start together, so appends made
/// this way are pending at the same time (and meet in one group-commit flush where the
/// store batches).
async fn all<F: std::future::Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Races two writers for one id, `rounds` times, each on a task of its own (on a
/// multi-thread runtime they run in parallel): every time exactly one wins, the loser gets
/// a conflict, and the journal holds the winner's events only.
///
/// `a` and `b` may be one store (racing inside its group commit) or two stores on one
/// database (racing in the database).
pub async fn racing_stores<J: Journal + Clone>(a: &J, b: &J, rounds: usize) {
    let mut wins = [0usize; 2];
    for round in 0..rounds {
        let id = fresh_id("race");
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let racer = |j: &J, events: Vec<NewEvent>| {
            let (j, id, start) = (j.clone(), id.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                j.append(&id, 0, events).await
            })
        };
        let ta = racer(a, vec![event(1), event(2)]);
        let tb = racer(b, vec![event(1)]);
        let (ra, rb) = (
            ta.await.expect("racer a panicked"),
            tb.await.expect("racer b panicked"),
        );
        let expected = match (&ra, &rb) {
            (Ok(2), Err(e)) if e.is_conflict() => {
                wins[0] += 1;
                vec![1, 2]
            }
            (Err(e), Ok(1)) if e.is_conflict() => {
                wins[1] += 1;
                vec![1]
            }
            _ => panic!(
                "round {round}: exactly one writer wins, the other conflicts: {ra:?} / {rb:?}"
            ),
        };
        assert_eq!(
            seqs(a, &id, 1, u64::MAX, u64::MAX).await,
            expected,
            "round {round}"
        );
        assert_eq!(
            seqs(b, &id, 1, u64::MAX, u64::MAX).await,
            expected,
            "round {round}"
        );
    }
    assert_eq!(wins[0] + wins[1], rounds);
}

/// Concurrent writers to the same id, racing on tasks of their own through one store:
/// exactly one wins each sequence number.
pub async fn concurrent_writers_never_interleave<J: Journal + Clone>(j: &J) {
    racing_stores(j, j, 20).await;
}

/// Appends pending together (one group-commit flush where the store batches), some of
/// them stale: each stale append is refused with the exact conflict, every other append of
/// the same flush goes in.
pub async fn mixed_batch_refuses_only_the_conflicting_appends<J: Journal>(j: &J) {
    let ids: Vec<String> = (0..6).map(|_| fresh_id("mixed")).collect();
    // ids 0..3 hold one event already; 3..6 are new.
    for id in &ids[..3] {
        j.append(id, 0, vec![event(1)]).await.expect("prefill");
    }
    // (id, expected, events, should succeed)
    let plan: Vec<(usize, u64, u64, bool)> = vec![
        (0, 1, 2, true),  // right
        (1, 0, 1, false), // stale: journal is at 1
        (2, 1, 1, true),  // right
        (3, 0, 2, true),  // new
        (4, 3, 1, false), // ahead of the journal
        (5, 0, 1, true),  // new
        (1, 1, 1, true),  // right, after the stale one for the same id
    ];
    let futures: Vec<_> = plan
        .iter()
        .map(|&(i, expected, n, _)| {
            let events = (expected + 1..=expected + n).map(event).collect();
            j.append(&ids[i], expected, events)
        })
        .collect();
    let results = all(futures).await;
    for (&(i, expected, n, ok), result) in plan.iter().zip(&results) {
        if ok {
            assert_eq!(
                result.as_ref().ok(),
                Some(&(expected + n)),
                "append to id {i}: {result:?}"
            );
        } else {
            match result {
                Err(crate::StoreError::Conflict {
                    expected: e,
                    actual,
                    ..
                }) => {
                    assert_eq!(*e, expected, "id {i}");
                    assert_ne!(*actual, expected, "id {i}");
                }
                other => panic!("id {i}: expected a conflict, got {other:?}"),
            }
        }
    }
    let lens = [3, 2, 2, 2, 0, 1];
    for (id, len) in ids.iter().zip(lens) {
        assert_eq!(
            seqs(j, id, 1, u64::MAX, u64::MAX).await,
            (1..=len).collect::<Vec<u64>>(),
            "{id}"
        );
    }
}

fn snapshot(id: &str, seq: u64, created_at: i64, body: &str) -> SnapshotRecord {
    SnapshotRecord {
        persistence_id: id.to_owned(),
        sequence_nr: seq,
        created_at,
        manifest: "tck.State".to_owned(),
        payload: format!("\"{body}\""),
    }
}

/// Three snapshots at 10/100, 20/200, 30/300 (sequence number / timestamp).
async fn snapshots<S: SnapshotStore>(s: &S, case: &str) -> String {
    let id = fresh_id(case);
    for (seq, ts) in [(10, 100), (20, 200), (30, 300)] {
        s.save(snapshot(&id, seq, ts, &format!("s-{seq}")))
            .await
            .expect("save");
    }
    id
}

async fn loaded<S: SnapshotStore>(s: &S, id: &str, c: SnapshotCriteria) -> Option<u64> {
    let found = s.load(id, c).await.expect("load")?;
    assert_eq!(found.persistence_id, id);
    assert_eq!(found.manifest, "tck.State");
    assert_eq!(found.payload, format!("\"s-{}\"", found.sequence_nr));
    Some(found.sequence_nr)
}

/// Loads nothing for an unknown id, or for criteria no snapshot matches.
pub async fn snapshot_nothing_for_unknown_or_unmatched<S: SnapshotStore>(s: &S) {
    assert_eq!(
        loaded(s, &fresh_id("snap-unknown"), SnapshotCriteria::latest()).await,
        None
    );
    let id = snapshots(s, "snap-unmatched").await;
    assert_eq!(
        loaded(s, &id, SnapshotCriteria::latest().max_sequence_nr(5)).await,
        None
    );
    assert_eq!(
        loaded(s, &id, SnapshotCriteria::latest().max_timestamp(50)).await,
        None
    );
}

/// Loads the newest snapshot.
pub async fn snapshot_newest<S: SnapshotStore>(s: &S) {
    let id = snapshots(s, "snap-newest").await;
    assert_eq!(loaded(s, &id, SnapshotCriteria::latest()).await, Some(30));
}

/// Loads the newest snapshot under a sequence-number bound.
pub async fn snapshot_newest_under_sequence_bound<S: SnapshotStore>(s: &S) {
    let id = snapshots(s, "snap-seq").await;
    assert_eq!(
        loaded(s, &id, SnapshotCriteria::latest().max_sequence_nr(25)).await,
        Some(20)
    );
}

/// Loads the newest snapshot under sequence-number and timestamp bounds.
pub async fn snapshot_newest_under_sequence_and_time_bounds<S: SnapshotStore>(s: &S) {
    let id = snapshots(s, "snap-seq-time").await;
    let c = SnapshotCriteria::latest()
        .max_sequence_nr(30)
        .max_timestamp(150);
    assert_eq!(loaded(s, &id, c).await, Some(10));
}

/// Deletes one snapshot.
pub async fn snapshot_delete_one<S: SnapshotStore>(s: &S) {
    let id = snapshots(s, "snap-del-one").await;
    s.delete(&id, 30).await.expect("delete");
    assert_eq!(loaded(s, &id, SnapshotCriteria::latest()).await, Some(20));
}

/// Deletes the snapshots matching criteria, and only those.
pub async fn snapshot_delete_by_criteria<S: SnapshotStore>(s: &S) {
    let id = snapshots(s, "snap-del-crit").await;
    // A timestamp bound that matches nothing deletes nothing.
    s.delete_matching(
        &id,
        SnapshotCriteria::latest()
            .max_sequence_nr(30)
            .max_timestamp(50),
    )
    .await
    .expect("delete nothing");
    assert_eq!(
        loaded(s, &id, SnapshotCriteria::latest().max_sequence_nr(10)).await,
        Some(10)
    );
    s.delete_matching(
        &id,
        SnapshotCriteria::latest()
            .max_sequence_nr(20)
            .max_timestamp(200),
    )
    .await
    .expect("delete");
    assert_eq!(
        loaded(s, &id, SnapshotCriteria::latest().max_sequence_nr(29)).await,
        None
    );
    assert_eq!(loaded(s, &id, SnapshotCriteria::latest()).await, Some(30));
}

/// Saving at an existing sequence number overwrites.
pub async fn snapshot_overwrite_same_sequence<S: SnapshotStore>(s: &S) {
    let id = fresh_id("snap-overwrite");
    s.save(snapshot(&id, 7, 100, "old")).await.expect("save");
    s.save(snapshot(&id, 7, 200, "new"))
        .await
        .expect("overwrite");
    let found = s
        .load(&id, SnapshotCriteria::latest())
        .await
        .expect("load")
        .expect("one");
    assert_eq!(
        (found.sequence_nr, found.created_at, found.payload.as_str()),
        (7, 200, "\"new\"")
    );
}

/// Saves and loads a 10 kB snapshot.
pub async fn snapshot_big<S: SnapshotStore>(s: &S) {
    let id = fresh_id("snap-big");
    let body = "x".repeat(10_000);
    s.save(snapshot(&id, 1, 100, &body)).await.expect("save");
    let found = s
        .load(&id, SnapshotCriteria::latest())
        .await
        .expect("load")
        .expect("one");
    assert_eq!(found.payload.len(), 10_002);
    assert_eq!(found.payload, format!("\"{body}\""));
}

// Queries (Akka Persistence Query's cases). The database may be shared with other cases
// and runs: each case uses fresh ids and tags, and looks at its own events only.

/// A tagged event: payload `n`, tags `tags`.
fn tagged(n: u64, tags: &[&str]) -> NewEvent {
    event(n).tagged(tags.iter().copied())
}

fn ids_and_seqs(events: &[EventEnvelope]) -> Vec<(String, u64)> {
    events
        .iter()
        .map(|e| (e.persistence_id.clone(), e.sequence_nr))
        .collect()
}

fn assert_increasing(events: &[EventEnvelope]) {
    for w in events.windows(2) {
        assert!(
            w[0].offset < w[1].offset,
            "offsets increase: {} then {}",
            w[0].offset,
            w[1].offset
        );
    }
}

/// Offsets increase, and each id's events `1..=n` come once, in order.
fn assert_each_once_in_order(seen: &[EventEnvelope], ids: &[String], n: u64) {
    assert_increasing(seen);
    for id in ids {
        let seqs: Vec<u64> = seen
            .iter()
            .filter(|e| &e.persistence_id == id)
            .map(|e| e.sequence_nr)
            .collect();
        assert_eq!(
            seqs,
            (1..=n).collect::<Vec<_>>(),
            "every event of {id} once, in order"
        );
    }
}

/// Events by tag: only the tagged ones, in the order written, with every tag they were
/// stored with (sorted); from an offset; at most a count.
pub async fn query_events_by_tag<J: ReadJournal>(j: &J) {
    let (a, b) = (fresh_id("tag-a"), fresh_id("tag-b"));
    let (t, u) = (fresh_id("tag"), fresh_id("other-tag"));
    j.append(&a, 0, vec![tagged(1, &[&t])])
        .await
        .expect("append");
    j.append(&b, 0, vec![event(1)]).await.expect("append");
    j.append(&a, 1, vec![tagged(2, &[&u, &t, &t])])
        .await
        .expect("append");
    j.append(&b, 1, vec![tagged(2, &[&t])])
        .await
        .expect("append");
    let found = j.events_by_tag(&t, 0, 100).await.expect("by tag");
    assert_eq!(
        ids_and_seqs(&found),
        [(a.clone(), 1), (a.clone(), 2), (b.clone(), 2)]
    );
    assert_increasing(&found);
    assert_eq!(found[0].tags, std::slice::from_ref(&t));
    let mut both = vec![t.clone(), u.clone()];
    both.sort();
    assert_eq!(found[1].tags, both, "each tag once, sorted");
    assert_eq!(
        (found[1].manifest.as_str(), found[1].payload.as_str()),
        ("tck.Event", "\"e-2\"")
    );
    let after_first = j
        .events_by_tag(&t, found[0].offset, 100)
        .await
        .expect("by tag");
    assert_eq!(ids_and_seqs(&after_first), [(a.clone(), 2), (b.clone(), 2)]);
    assert_eq!(
        ids_and_seqs(&j.events_by_tag(&t, 0, 1).await.expect("by tag")),
        [(a.clone(), 1)]
    );
    assert_eq!(
        ids_and_seqs(&j.events_by_tag(&u, 0, 100).await.expect("by tag")),
        [(a, 2)]
    );
    assert!(
        j.events_by_tag(&fresh_id("unused"), 0, 100)
            .await
            .expect("by tag")
            .is_empty()
    );
}

/// All events after an offset, in the order written; the highest offset covers them.
pub async fn query_all_events_after_an_offset<J: ReadJournal>(j: &J) {
    let start = j.highest_offset().await.expect("highest offset");
    let (a, b) = (fresh_id("all-a"), fresh_id("all-b"));
    j.append(&a, 0, vec![event(1), event(2)])
        .await
        .expect("append");
    j.append(&b, 0, vec![event(1)]).await.expect("append");
    j.append(&a, 2, vec![event(3)]).await.expect("append");
    let end = j.highest_offset().await.expect("highest offset");
    let mut mine = Vec::new();
    let mut after = start;
    loop {
        // Small pages: the cursor must carry across them.
        let page = j.all_events(after, 2).await.expect("all events");
        let Some(last) = page.last() else { break };
        after = last.offset;
        mine.extend(
            page.into_iter()
                .filter(|e| e.persistence_id == a || e.persistence_id == b),
        );
    }
    assert_eq!(
        ids_and_seqs(&mine),
        [
            (a.clone(), 1),
            (a.clone(), 2),
            (b.clone(), 1),
            (a.clone(), 3)
        ]
    );
    assert_increasing(&mine);
    assert!(mine.iter().all(|e| e.offset > start && e.offset <= end));
}

/// Events of one id from a sequence number, with their offsets; deleted ones left out.
pub async fn query_events_by_id<J: ReadJournal>(j: &J) {
    let id = prefilled(j, "by-id").await;
    let found = j.events_by_id(&id, 3, 100).await.expect("by id");
    assert_eq!(
        found.iter().map(|e| e.sequence_nr).collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_increasing(&found);
    assert_eq!(j.events_by_id(&id, 2, 2).await.expect("by id").len(), 2);
    j.delete_to(&id, 4).await.expect("delete");
    let found = j.events_by_id(&id, 1, 100).await.expect("by id");
    assert_eq!(found.iter().map(|e| e.sequence_nr).collect::<Vec<_>>(), [5]);
    assert!(
        j.events_by_id(&fresh_id("nobody"), 1, 100)
            .await
            .expect("by id")
            .is_empty()
    );
}

/// Deleted events are not delivered by tag or among all events.
pub async fn query_leaves_deleted_events_out<J: ReadJournal>(j: &J) {
    let (id, t) = (fresh_id("del"), fresh_id("del-tag"));
    let start = j.highest_offset().await.expect("highest offset");
    j.append(
        &id,
        0,
        vec![tagged(1, &[&t]), tagged(2, &[&t]), tagged(3, &[&t])],
    )
    .await
    .expect("append");
    j.delete_to(&id, 2).await.expect("delete");
    let by_tag = j.events_by_tag(&t, 0, 100).await.expect("by tag");
    assert_eq!(ids_and_seqs(&by_tag), [(id.clone(), 3)]);
    let all = j.all_events(start, 10_000).await.expect("all events");
    let mine: Vec<_> = all.into_iter().filter(|e| e.persistence_id == id).collect();
    assert_eq!(ids_and_seqs(&mine), [(id, 3)]);
}

/// A page of all events is full while later events exist, past deleted ones and from an
/// offset in the middle of an append: a short page tells streams they caught up.
pub async fn query_pages_are_full_past_deleted_events<J: ReadJournal>(j: &J) {
    let start = j.highest_offset().await.expect("highest offset");
    let (gone, kept) = (fresh_id("full-gone"), fresh_id("full-kept"));
    j.append(&gone, 0, (1..=5).map(event).collect())
        .await
        .expect("append");
    j.append(&kept, 0, vec![event(1), event(2), event(3)])
        .await
        .expect("append");
    j.delete_to(&gone, 5).await.expect("delete");
    let page = j.all_events(start, 2).await.expect("all events");
    assert_eq!(
        page.len(),
        2,
        "a full page past five deleted events: {page:?}"
    );
    assert!(page.iter().all(|e| e.persistence_id != gone));
    assert_increasing(&page);
    // From the offset of `kept`'s first event: the rest of its append comes next (other
    // cases may write between them, so only the count and the order are certain).
    let all = j.all_events(start, 10_000).await.expect("all events");
    let first = all
        .iter()
        .find(|e| e.persistence_id == kept && e.sequence_nr == 1)
        .expect("kept's first event")
        .offset;
    let page = j.all_events(first, 2).await.expect("all events");
    assert_eq!(page.len(), 2);
    assert!(page.iter().all(|e| e.offset > first));
    assert_increasing(&page);
    let mine: Vec<_> = page.iter().filter(|e| e.persistence_id == kept).collect();
    assert_eq!(mine.first().map(|e| e.sequence_nr), Some(2));
}

/// A finite stream delivers what was stored when it started, across pages, then ends.
pub async fn query_finite_stream_ends<J: ReadJournal + Clone>(j: &J) {
    let (id, t) = (fresh_id("finite"), fresh_id("finite-tag"));
    let events = (1..=5).map(|n| tagged(n, &[&t])).collect();
    j.append(&id, 0, events).await.expect("append");
    let mut stream = EventStream::by_tag(j.clone(), t.clone(), 0).page_size(2);
    let first = stream.next().await.expect("one").expect("read");
    assert_eq!(first.sequence_nr, 1);
    // Written after the stream started: not part of it.
    j.append(&id, 5, vec![tagged(6, &[&t])])
        .await
        .expect("append");
    let mut seen = vec![first.sequence_nr];
    while let Some(e) = stream.next().await {
        seen.push(e.expect("read").sequence_nr);
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    assert!(stream.next().await.is_none(), "an ended stream stays ended");
    let mut by_id = EventStream::by_id(j.clone(), id.clone(), 4);
    let mut seen = Vec::new();
    while let Some(e) = by_id.next().await {
        seen.push(e.expect("read").sequence_nr);
    }
    assert_eq!(seen, [5, 6]);
}

/// A live stream delivers the stored events, then each new one, once, in order, while
/// writers append concurrently.
pub async fn query_live_stream_follows_concurrent_writers<J: ReadJournal + Clone>(j: &J) {
    let t = fresh_id("live-tag");
    let ids: Vec<String> = (0..4).map(|_| fresh_id("live")).collect();
    j.append(&ids[0], 0, vec![tagged(1, &[&t])])
        .await
        .expect("append");
    let mut stream = EventStream::by_tag(j.clone(), t.clone(), 0)
        .live()
        .page_size(7)
        .poll_interval(std::time::Duration::from_millis(20));
    let writers: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(w, id)| {
            let (j, id, t) = (j.clone(), id.clone(), t.clone());
            tokio::spawn(async move {
                let first = if w == 0 { 1 } else { 0 };
                for n in first..25 {
                    j.append(&id, n, vec![tagged(n + 1, &[&t])])
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    let mut seen: Vec<EventEnvelope> = Vec::new();
    while seen.len() < 100 {
        let e = stream
            .next()
            .await
            .expect("a live stream does not end")
            .expect("read");
        seen.push(e);
    }
    for w in writers {
        w.await.expect("writer panicked");
    }
    assert_each_once_in_order(&seen, &ids, 25);
}

/// Two stores on one database (two pools, as two processes would) append concurrently,
/// some appends losing races (their offsets are never committed: gaps), while a live
/// stream on a third reads: it delivers every committed event once, in increasing offset
/// order, and never waits for a gap.
pub async fn stores_commit_in_offset_order<J: ReadJournal + Clone>(a: &J, b: &J, reader: &J) {
    let t = fresh_id("order-tag");
    let mut stream = EventStream::by_tag(reader.clone(), t.clone(), 0)
        .live()
        .page_size(5)
        .poll_interval(std::time::Duration::from_millis(5));
    let ids: Vec<String> = (0..4).map(|_| fresh_id("order")).collect();
    let mut writers = Vec::new();
    for (w, id) in ids.iter().enumerate() {
        let j = if w % 2 == 0 { a.clone() } else { b.clone() };
        let rival = if w % 2 == 0 { b.clone() } else { a.clone() };
        let (id, t) = (id.clone(), t.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..20 {
                j.append(&id, n, vec![tagged(n + 1, &[&t])])
                    .await
                    .expect("append");
                if n % 5 == 0 {
                    // A stale append from the other store: refused, after it may have
                    // taken an offset.
                    let stale = rival.append(&id, n, vec![tagged(99, &[&t])]).await;
                    assert!(stale.expect_err("stale").is_conflict());
                }
            }
        }));
    }
    let mut seen: Vec<EventEnvelope> = Vec::new();
    while seen.len() < 80 {
        // A skipped event would leave the stream waiting for it for ever.
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .unwrap_or_else(|_| panic!("missed events: {} of 80 delivered", seen.len()))
            .expect("live")
            .expect("read");
        seen.push(e);
    }
    for w in writers {
        w.await.expect("writer panicked");
    }
    assert_each_once_in_order(&seen, &ids, 20);
    assert!(
        seen.iter().all(|e| e.payload != payload(99)),
        "no refused event"
    );
}

/// Offsets saved under a projection's name load back; another name has none.
pub async fn offsets_are_saved_per_projection<S: OffsetStore>(s: &S) {
    let (p, q) = (fresh_id("proj"), fresh_id("proj"));
    assert_eq!(s.load_offset(&p).await.expect("load"), None);
    s.save_offset(&p, 7).await.expect("save");
    s.save_offset(&p, 9).await.expect("save again");
    assert_eq!(s.load_offset(&p).await.expect("load"), Some(9));
    assert_eq!(s.load_offset(&q).await.expect("load"), None);
}

/// A projection handles each event once per run and resumes after its saved offset; a
/// failing handler stops it with the event's details, and the next run starts at that
/// event.
pub async fn projection_resumes_after_its_offset<J: ReadJournal + OffsetStore + Clone>(j: &J) {
    struct Seen {
        events: Vec<(String, u64)>,
        fail_on: Option<u64>,
    }
    impl EventHandler for Seen {
        async fn handle(&mut self, e: &EventEnvelope) -> Result<(), HandlerError> {
            if self.fail_on == Some(e.sequence_nr) {
                return Err("refused".into());
            }
            self.events.push((e.persistence_id.clone(), e.sequence_nr));
            Ok(())
        }
    }
    let (id, t) = (fresh_id("proj-id"), fresh_id("proj-tag"));
    let projection = Projection::by_tag(fresh_id("projection"), t.clone()).page_size(2);
    j.append(&id, 0, (1..=3).map(|n| tagged(n, &[&t])).collect())
        .await
        .expect("append");
    let mut seen = Seen {
        events: Vec::new(),
        fail_on: Some(3),
    };
    match projection.run(j, &mut seen).await {
        Err(ProjectionError::Handler {
            persistence_id,
            sequence_nr,
            ..
        }) => {
            assert_eq!((persistence_id.as_str(), sequence_nr), (id.as_str(), 3));
        }
        other => panic!("expected the handler's error, got {other:?}"),
    }
    seen.fail_on = None;
    j.append(&id, 3, vec![tagged(4, &[&t])])
        .await
        .expect("append");
    let run = projection.run(j, &mut seen).await.expect("run");
    assert_eq!(run.handled, 2);
    let expected: Vec<(String, u64)> = (1..=4).map(|n| (id.clone(), n)).collect();
    assert_eq!(
        seen.events, expected,
        "each event once, the failed one again"
    );
    let again = projection.run(j, &mut seen).await.expect("run");
    assert_eq!((again.handled, again.offset), (0, run.offset));
    assert_eq!(
        j.load_offset(projection.name()).await.expect("load"),
        Some(run.offset)
    );
}

/// One `#[tokio::test]` per conformance case, for a store made by `$make` (an expression
/// evaluating to a future of the store).
///
/// ```
/// // In a test target: one `#[tokio::test]` per case (they exist under `cargo test` only).
/// bactor_persist::tck_tests!(async { Some(bactor_persist::MemoryStore::new()) });
///
/// // `None` skips every case (for a backend whose server is missing).
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A case can also be called directly:
/// bactor_persist::tck::atomic_batch_is_all_or_nothing(&bactor_persist::MemoryStore::new()).await;
/// # }
/// ```
#[macro_export]
macro_rules! tck_tests {
    ($make:expr) => {
        $crate::tck_tests!(@cases $make;
            replay_all, replay_from_lower_bound, replay_to_upper_bound, replay_with_max_count,
            replay_with_both_bounds, replay_with_bounds_and_count, replay_single_when_bounds_equal,
            replay_single_when_count_is_one, replay_nothing_when_count_is_zero,
            replay_nothing_when_lower_exceeds_upper, replay_nothing_for_unknown_id,
            highest_sequence_nr, deleted_events_are_not_replayed, highest_sequence_nr_survives_deletion,
            atomic_batch_is_all_or_nothing, conflicting_append_is_refused,
            concurrent_writers_never_interleave, mixed_batch_refuses_only_the_conflicting_appends,
            snapshot_nothing_for_unknown_or_unmatched, snapshot_newest,
            snapshot_newest_under_sequence_bound, snapshot_newest_under_sequence_and_time_bounds,
            snapshot_delete_one, snapshot_delete_by_criteria, snapshot_overwrite_same_sequence,
            snapshot_big,
            query_events_by_tag, query_all_events_after_an_offset, query_events_by_id,
            query_leaves_deleted_events_out, query_pages_are_full_past_deleted_events,
            query_finite_stream_ends,
            query_live_stream_follows_concurrent_writers, offsets_are_saved_per_projection,
            projection_resumes_after_its_offset
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                // Bounded: a store that hangs fails the case instead of hanging the run.
                let bound = ::std::time::Duration::from_secs(60);
                let store = ::tokio::time::timeout(bound, $make)
                    .await
                    .expect("making the store hung");
                if let Some(store) = store {
                    ::tokio::time::timeout(bound, $crate::tck::$case(&store))
                        .await
                        .expect("the case hung");
                }
            }
        )*
    };
}
