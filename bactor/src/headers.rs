//! Message headers: key-value pairs that travel with a message, for context that is not
//! part of it (a trace id, a tenant, a deadline, who is asking).
//!
//! A send carries headers when it goes through a ref made by
//! [`ActorRef::with_headers`](crate::ActorRef::with_headers); the handler reads them with
//! [`Context::headers`](crate::Context::headers), receive middleware with
//! [`Incoming::headers`](crate::middleware::Incoming::headers), send middleware with
//! [`Outgoing::headers`](crate::middleware::Outgoing::headers). They cross nodes (feature
//! `remote`), survive the stash and are forwarded by routers. To pass them on, send
//! through [`Context::propagate`](crate::Context::propagate): the current message's
//! headers go with the next hop.
//!
//! A message sent without headers carries none and costs nothing more: headers are
//! boxed with their message only when there are some.
//!
//! ```
//! use bactor::Headers;
//!
//! let h = Headers::new().with("trace-id", "4bf92f35").with("tenant", "acme");
//! assert_eq!(h.get("trace-id"), Some("4bf92f35"));
//! assert_eq!(h.get("missing"), None);
//! let h = h.with("tenant", "globex"); // replaces
//! assert_eq!(h.get("tenant"), Some("globex"));
//! assert_eq!(h.len(), 2);
//! ```

use std::fmt;
use std::sync::Arc;

/// Key-value pairs that travel with a message (see the [module docs](self)).
///
/// Cheap to clone (one reference count); empty headers are a null pointer. Keys are
/// unique; the order is the order of first insertion.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Option<Arc<Vec<(String, String)>>>);

impl Headers {
    /// No headers.
    pub const fn new() -> Self {
        Headers(None)
    }

    /// These headers with `key` set to `value` (replacing its previous value).
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value`, replacing its previous value. Copies the pairs first if
    /// another clone shares them.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let (key, value) = (key.into(), value.into());
        let pairs = Arc::make_mut(self.0.get_or_insert_with(Default::default));
        match pairs.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => pairs.push((key, value)),
        }
    }

    /// Removes `key`; its value, if it was there.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pairs = Arc::make_mut(self.0.as_mut()?);
        let i = pairs.iter().position(|(k, _)| k == key)?;
        let (_, value) = pairs.remove(i);
        if pairs.is_empty() {
            self.0 = None;
        }
        Some(value)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every `(key, value)`, in the order of first insertion.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    fn pairs(&self) -> &[(String, String)] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    /// The pairs, for the wire.
    #[cfg(feature = "remote")]
    pub(crate) fn to_wire(&self) -> Vec<(String, String)> {
        self.pairs().to_vec()
    }

    /// Headers read from the wire (a key sent twice keeps its last value).
    #[cfg(feature = "remote")]
    pub(crate) fn from_wire(pairs: Vec<(String, String)>) -> Self {
        pairs.into_iter().collect()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (k, v) in iter {
            h.insert(k, v);
        }
        h
    }
}

impl<K: Into<String>, V: Into<String>> Extend<(K, V)> for Headers {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

// One word: an actor ref, and every message that has none, pays no more for headers.
const _: () = assert!(std::mem::size_of::<Headers>() == std::mem::size_of::<usize>());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replace_remove_keep_first_insertion_order() {
        let mut h: Headers = [("a", "1"), ("b", "2")].into_iter().collect();
        h.insert("a", "3");
        h.extend([("c", "4")]);
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("a", "3"), ("b", "2"), ("c", "4")]
        );
        assert_eq!(h.remove("b").as_deref(), Some("2"));
        assert_eq!(h.remove("b"), None);
        assert_eq!(h.len(), 2);
        assert_eq!(format!("{h:?}"), r#"{"a": "3", "c": "4"}"#);
    }

    #[test]
    fn removing_the_last_key_makes_them_empty_again() {
        let mut h = Headers::new().with("k", "v");
        assert!(!h.is_empty());
        h.remove("k");
        assert!(h.is_empty());
        assert_eq!(h, Headers::new());
    }

    #[test]
    fn a_clone_is_not_changed_by_inserts_into_the_original() {
        let a = Headers::new().with("k", "1");
        let mut b = a.clone();
        b.insert("k", "2");
        assert_eq!(a.get("k"), Some("1"));
        assert_eq!(b.get("k"), Some("2"));
    }
}
