//! How message arguments and replies are written on the wire.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The format of message payloads between nodes, chosen per node with
/// [`NodeBuilder::codec`](super::NodeBuilder::codec). Both sides of a link must use the
/// same one.
///
/// # Example
///
/// ```
/// use bactor::remote::Codec;
///
/// assert_eq!(Codec::default(), Codec::Postcard);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// postcard: compact and fast (the default).
    #[default]
    Postcard,
    /// JSON, for interoperability with nodes or tools written in other languages.
    Json,
}

/// A value that could not be encoded or decoded.
///
/// # Example
///
/// ```
/// use bactor::remote::{Codec, CodecError, decode_args};
///
/// let e: CodecError = decode_args::<(u64,)>(Codec::Json, b"not json").unwrap_err();
/// assert!(e.to_string().contains("JSON"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError(pub(crate) String);

impl CodecError {
    pub(crate) fn new(text: impl Into<String>) -> Self {
        CodecError(text.into())
    }

    /// A method index the actor does not have.
    #[doc(hidden)]
    pub fn unknown_method(index: usize) -> Self {
        CodecError(format!("no method number {index}"))
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// Appends `value` to `out` in `codec`'s format. Used by the code `#[actor(remote)]`
/// generates.
pub fn encode_args<T: Serialize + ?Sized>(
    codec: Codec,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match codec {
        Codec::Postcard => postcard::to_io(value, &mut *out)
            .map(|_| ())
            .map_err(|e| CodecError(format!("cannot encode as postcard: {e}"))),
        Codec::Json => serde_json::to_writer(&mut *out, value)
            .map_err(|e| CodecError(format!("cannot encode as JSON: {e}"))),
    }
}

/// `value` in `codec`'s format, or the encoded error when it cannot be encoded.
pub(crate) fn encode_to_vec<T: Serialize>(codec: Codec, value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    if encode_args(codec, value, &mut out).is_err() {
        out.clear();
    }
    out
}

/// Reads a `T` from `bytes` in `codec`'s format; every byte must be used. Used by the code
/// `#[actor(remote)]` generates.
pub fn decode_args<T: DeserializeOwned>(codec: Codec, bytes: &[u8]) -> Result<T, CodecError> {
    match codec {
        Codec::Postcard => match postcard::take_from_bytes(bytes) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(CodecError(format!(
                "cannot decode postcard: {} bytes left over",
                rest.len()
            ))),
            Err(e) => Err(CodecError(format!("cannot decode postcard: {e}"))),
        },
        Codec::Json => serde_json::from_slice(bytes)
            .map_err(|e| CodecError(format!("cannot decode JSON: {e}"))),
    }
}

thread_local! {
    /// The address of the node whose message is being encoded on this thread: local refs
    /// inside it travel with it, so the receiver can reach them.
    static HOME: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// Runs `f` with `home` as the address local refs serialize with.
pub(crate) fn with_home<R>(home: &Arc<str>, f: impl FnOnce() -> R) -> R {
    let previous = HOME.with(|h| h.replace(Some(Arc::clone(home))));
    let out = f();
    HOME.with(|h| h.replace(previous));
    out
}

/// The address set by [`with_home`] on this thread.
pub(crate) fn home() -> Option<Arc<str>> {
    HOME.with(|h| h.borrow().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_codecs_round_trip_and_refuse_garbage() {
        for codec in [Codec::Postcard, Codec::Json] {
            let mut out = Vec::new();
            encode_args(codec, &(7u64, "seven", Some(vec![1u8, 2])), &mut out).unwrap();
            let back: (u64, String, Option<Vec<u8>>) = decode_args(codec, &out).unwrap();
            assert_eq!(back, (7, "seven".to_owned(), Some(vec![1, 2])));
            assert!(decode_args::<(u64, String)>(codec, &[0xff, 0xff, 0xff]).is_err());
            // Trailing bytes are an error, not ignored.
            out.extend_from_slice(b"  x");
            assert!(decode_args::<(u64, String, Option<Vec<u8>>)>(codec, &out).is_err());
        }
    }
}
