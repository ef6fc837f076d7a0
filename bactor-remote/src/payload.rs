//! The two parts of an [`Envelope`](crate::Envelope) that are made for every message and
//! cross threads on their way out: its payload and its method name. Both are cheap to
//! make and to drop on another thread, which `Bytes` and `Arc<str>` are not: a payload of
//! a few bytes is kept inline (no allocation, no reference count), and a name known at
//! compile time is a plain `&'static str`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;

/// How many bytes a [`Payload`] keeps inline.
const INLINE: usize = 23;

/// The encoded message of an envelope: up to 23 bytes inline, longer ones in shared
/// [`Bytes`]. Dereferences to `[u8]`.
///
/// Most actor messages encode to a few bytes (a number, a short string): keeping them
/// inline saves an allocation on the sending thread and a free on the writer's, and the
/// receiver copies them out of the frame instead of counting a reference per envelope.
///
/// ```
/// use bactor_remote::Payload;
///
/// let small = Payload::copy_from_slice(&[1, 2, 3]);
/// assert_eq!(&small[..], &[1, 2, 3]);
/// let large = Payload::from(vec![7u8; 1000]);
/// assert_eq!(large.len(), 1000);
/// assert_eq!(Payload::from(vec![1, 2, 3]), small);
/// ```
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Bytes),
}

impl Payload {
    /// An empty payload.
    pub const fn new() -> Self {
        Payload(Repr::Inline {
            len: 0,
            bytes: [0; INLINE],
        })
    }

    /// A copy of `bytes`: inline when short, else one allocation.
    #[inline]
    pub fn copy_from_slice(bytes: &[u8]) -> Self {
        match Self::inline(bytes) {
            Some(p) => p,
            None => Payload(Repr::Shared(Bytes::copy_from_slice(bytes))),
        }
    }

    /// `bytes[range]` of a shared buffer: copied when short, else a slice sharing it.
    #[inline]
    pub fn slice_of(bytes: &Bytes, range: std::ops::Range<usize>) -> Self {
        match Self::inline(&bytes[range.clone()]) {
            Some(p) => p,
            None => Payload(Repr::Shared(bytes.slice(range))),
        }
    }

    #[inline]
    fn inline(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > INLINE {
            return None;
        }
        let mut inline = [0; INLINE];
        inline[..bytes.len()].copy_from_slice(bytes);
        Some(Payload(Repr::Inline {
            len: bytes.len() as u8,
            bytes: inline,
        }))
    }

    /// The payload as `Bytes` (a copy when it was inline).
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline { len, bytes } => Bytes::copy_from_slice(&bytes[..usize::from(len)]),
            Repr::Shared(b) => b,
        }
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::new()
    }
}

impl Deref for Payload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self), f)
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        match Self::inline(&b) {
            Some(p) => p,
            None => Payload(Repr::Shared(b)),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        match Self::inline(&v) {
            Some(p) => p,
            None => Payload(Repr::Shared(v.into())),
        }
    }
}

impl From<&'static [u8]> for Payload {
    fn from(b: &'static [u8]) -> Self {
        Bytes::from_static(b).into()
    }
}

impl From<&'static str> for Payload {
    fn from(s: &'static str) -> Self {
        s.as_bytes().into()
    }
}

/// The method of an envelope (`Counter::add`, `$watch`): a `&'static str` when known at
/// compile time (no reference count touched per message), else a shared `Arc<str>`.
/// Dereferences to `str`; equal and hashed as its text.
///
/// ```
/// use bactor_remote::Name;
/// use std::sync::Arc;
///
/// let a = Name::from("Counter::add");
/// let b = Name::from(Arc::<str>::from("Counter::add"));
/// assert_eq!(a, b);
/// assert_eq!(&*a, "Counter::add");
/// ```
#[derive(Clone)]
pub struct Name(NameRepr);

#[derive(Clone)]
enum NameRepr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Name {
    /// `true` when both are the same text at the same address (a cheap first test
    /// before comparing the text).
    #[inline]
    pub fn same_text_ptr(&self, other: &Name) -> bool {
        std::ptr::eq(self.as_str(), other.as_str())
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            NameRepr::Static(s) => s,
            NameRepr::Shared(s) => s,
        }
    }
}

impl Deref for Name {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.same_text_ptr(other) || self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Name {
    fn from(s: &'static str) -> Self {
        Name(NameRepr::Static(s))
    }
}

impl From<Arc<str>> for Name {
    fn from(s: Arc<str>) -> Self {
        Name(NameRepr::Shared(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(NameRepr::Shared(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_at_every_size_around_the_inline_limit() {
        let shared = Bytes::from((0..=255u8).collect::<Vec<u8>>());
        for len in 0..=INLINE + 2 {
            let data: Vec<u8> = (0..len as u8).collect();
            let a = Payload::copy_from_slice(&data);
            let b = Payload::from(data.clone());
            let c = Payload::from(Bytes::from(data.clone()));
            let d = Payload::slice_of(&shared, 0..len);
            for p in [&a, &b, &c, &d] {
                assert_eq!(&p[..], &data[..]);
                assert_eq!(p.len(), len);
                assert_eq!(matches!(p.0, Repr::Inline { .. }), len <= INLINE);
            }
            assert_eq!(a.clone().into_bytes(), Bytes::from(data));
        }
        assert!(Payload::new().is_empty());
    }

    #[test]
    fn names_compare_and_hash_as_text() {
        use std::collections::HashSet;
        let names: HashSet<Name> = [
            Name::from("a::b"),
            Name::from(Arc::<str>::from("a::b")),
            Name::from(String::from("a::b")),
            Name::from("a::c"),
        ]
        .into_iter()
        .collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains("a::b"));
        let s = Name::from("x");
        assert!(s.same_text_ptr(&s.clone()));
        assert_eq!(s.to_string(), "x");
    }

    #[test]
    fn a_payload_is_no_larger_than_bytes_and_a_word() {
        assert!(std::mem::size_of::<Payload>() <= std::mem::size_of::<Bytes>() + 8);
    }
}
