//! The priority kind: one queue per [`Priority`] level, the highest served first, each in
//! arrival order.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

use super::{Envelope, Mailbox, MailboxConfig, Priority, Push};

/// A mailbox that serves higher [`Priority`] levels first and keeps arrival order within a
/// level. Bounded or not, like the default mailbox: its bound counts all levels together.
///
/// Actors get one when any of their handlers declares `#[handler(priority = ..)]`: the
/// mailbox size they are configured with becomes its bound. It can also be chosen
/// directly, with [`Props::mailbox_with`](crate::Props::mailbox_with).
///
/// # Example
///
/// ```
/// use bactor::mailbox::{Envelope, Mailbox, PriorityMailbox, Push};
/// use bactor::{MailboxConfig, Priority};
///
/// let queue = PriorityMailbox::new(MailboxConfig::Bounded(2));
/// assert!(matches!(queue.push(Envelope::new("chore").with_priority(Priority::Low)), Push::Queued));
/// assert!(matches!(queue.push(Envelope::new("fire")), Push::Queued));
/// // Full: the bound counts every level.
/// assert!(matches!(queue.push(Envelope::new("later").with_priority(Priority::High)), Push::Full(_)));
/// assert_eq!(queue.pop().map(Envelope::into_message), Some("fire"));
/// assert_eq!(queue.pop().map(Envelope::into_message), Some("chore"));
/// assert!(queue.pop().is_none());
/// ```
pub struct PriorityMailbox<M> {
    capacity: Option<usize>,
    levels: Mutex<Levels<M>>,
}

struct Levels<M> {
    /// By level, lowest first. No queue allocates before its first message.
    queues: [VecDeque<Envelope<M>>; Priority::LEVELS],
    len: usize,
}

impl<M> PriorityMailbox<M> {
    /// An empty priority mailbox with this bound.
    pub fn new(config: MailboxConfig) -> Self {
        PriorityMailbox {
            capacity: match config {
                MailboxConfig::Bounded(n) => Some(n.max(1)),
                MailboxConfig::Unbounded => None,
            },
            levels: Mutex::new(Levels {
                queues: Default::default(),
                len: 0,
            }),
        }
    }

    fn levels(&self) -> std::sync::MutexGuard<'_, Levels<M>> {
        // Each update under the lock is one push or pop: a panic cannot leave it torn.
        self.levels.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<M: Send + 'static> Mailbox<M> for PriorityMailbox<M> {
    fn push(&self, envelope: Envelope<M>) -> Push<M> {
        let mut levels = self.levels();
        if self.capacity.is_some_and(|cap| levels.len >= cap) {
            return Push::Full(envelope);
        }
        levels.queues[envelope.priority() as usize].push_back(envelope);
        levels.len += 1;
        Push::Queued
    }

    fn pop(&self) -> Option<Envelope<M>> {
        let mut levels = self.levels();
        let env = levels
            .queues
            .iter_mut()
            .rev()
            .find_map(VecDeque::pop_front)?;
        levels.len -= 1;
        Some(env)
    }

    fn len(&self) -> usize {
        self.levels().len
    }
}

impl<M> fmt::Debug for PriorityMailbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriorityMailbox")
            .field("capacity", &self.capacity)
            .field("len", &self.levels().len)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &PriorityMailbox<u32>) -> Vec<u32> {
        std::iter::from_fn(|| queue.pop().map(Envelope::into_message)).collect()
    }

    #[test]
    fn higher_levels_first_and_arrival_order_within_a_level() {
        let queue = PriorityMailbox::new(MailboxConfig::Unbounded);
        let levels = [Priority::Low, Priority::Normal, Priority::High];
        for n in 0..12u32 {
            let level = levels[(n * 7 % 3) as usize];
            assert!(matches!(
                queue.push(Envelope::new(n).with_priority(level)),
                Push::Queued
            ));
        }
        assert_eq!(queue.len(), 12);
        let order = drain(&queue);
        let expect: Vec<u32> = levels
            .iter()
            .rev()
            .flat_map(|&l| (0..12u32).filter(move |n| levels[(n * 7 % 3) as usize] == l))
            .collect();
        assert_eq!(order, expect);
        assert_eq!(queue.len(), 0);
    }

    #[test]
    fn the_bound_counts_every_level_and_a_pop_makes_room() {
        let queue = PriorityMailbox::new(MailboxConfig::Bounded(3));
        for (n, p) in [
            (1, Priority::Low),
            (2, Priority::High),
            (3, Priority::Normal),
        ] {
            assert!(matches!(
                queue.push(Envelope::new(n).with_priority(p)),
                Push::Queued
            ));
        }
        match queue.push(Envelope::new(4).with_priority(Priority::High)) {
            Push::Full(back) => assert_eq!(back.into_message(), 4),
            _ => panic!("a fourth message fit in a bound of 3"),
        }
        assert_eq!(queue.pop().map(Envelope::into_message), Some(2));
        assert!(matches!(
            queue.push(Envelope::new(4).with_priority(Priority::High)),
            Push::Queued
        ));
        assert_eq!(drain(&queue), vec![4, 3, 1]);
    }
}
