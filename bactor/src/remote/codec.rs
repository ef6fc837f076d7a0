//! How message arguments and replies are written on the wire.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use bactor_remote::{BufMut, BytesMut, Payload};
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
    out: impl std::io::Write,
) -> Result<(), CodecError> {
    match codec {
        Codec::Postcard => postcard::to_io(value, out)
            .map(|_| ())
            .map_err(|e| CodecError(format!("cannot encode as postcard: {e}"))),
        Codec::Json => serde_json::to_writer(out, value)
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

/// The arguments and replies of a remote actor's handlers cross nodes: they must be
/// serde types. `#[actor(remote)]` asserts it once per argument and reply type, spanned on
/// the type, so a type that is not serde gets this one error, on the type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot cross nodes: the arguments and replies of `#[actor(remote)]` handlers must implement `serde::Serialize` and `serde::Deserialize`",
    label = "not a serde type",
    note = "derive them (`#[derive(serde::Serialize, serde::Deserialize)]`), or move this handler to an actor that is not remote"
)]
#[doc(hidden)]
pub trait RemoteArg {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + Send + 'static> RemoteArg for T {}

/// The assertion: fails to compile, spanned where it is called, unless `T` is serde.
#[doc(hidden)]
pub fn assert_remote<T: RemoteArg + ?Sized>() {}

/// Encodes and decodes values of `T` where `T` is serde, and fails at run time
/// otherwise, without a compile error of its own: method resolution picks [`ViaSerde`]
/// when the bounds hold and falls back to [`NotSerde`] (one more reference away) when
/// not. The one compile error for a type that is not serde comes from
/// [`assert_remote`].
#[doc(hidden)]
pub struct Probe<T: ?Sized>(std::marker::PhantomData<fn() -> *const T>);

impl<T: ?Sized> fmt::Debug for Probe<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Probe")
    }
}

impl<T: ?Sized> Default for Probe<T> {
    fn default() -> Self {
        Probe::new()
    }
}

impl<T: ?Sized> Probe<T> {
    /// A probe for `T`.
    pub fn new() -> Self {
        Probe(std::marker::PhantomData)
    }

    /// A probe for the type of `value`.
    pub fn of(_value: &T) -> Self {
        Probe::new()
    }
}

/// The working half of [`Probe`].
#[doc(hidden)]
pub trait ViaSerde<T: ?Sized> {
    /// Encodes `value`.
    fn encode(&self, value: &T, codec: Codec, out: &mut BytesMut) -> Result<(), CodecError>;
}

/// The working half of [`Probe`], for decoding.
#[doc(hidden)]
pub trait ViaSerdeOwned<T> {
    /// Decodes a `T`.
    fn decode(&self, codec: Codec, bytes: &[u8]) -> Result<T, CodecError>;
    /// The pending reply of an ask for a `T`.
    fn pending(&self, slot: crate::ReplyTo<T>) -> Box<dyn super::PendingReply>;
    /// The reply slot of an ask from another node, for a `T`.
    fn reply_to(&self, channel: super::ReplyChannel) -> crate::ReplyTo<T>;
}

impl<T: Serialize + ?Sized> ViaSerde<T> for Probe<T> {
    fn encode(&self, value: &T, codec: Codec, out: &mut BytesMut) -> Result<(), CodecError> {
        encode_args(codec, value, out.writer())
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> ViaSerdeOwned<T> for Probe<T> {
    fn decode(&self, codec: Codec, bytes: &[u8]) -> Result<T, CodecError> {
        decode_args(codec, bytes)
    }

    fn pending(&self, slot: crate::ReplyTo<T>) -> Box<dyn super::PendingReply> {
        Box::new(super::target::Pending(slot))
    }

    fn reply_to(&self, channel: super::ReplyChannel) -> crate::ReplyTo<T> {
        channel.into_reply_to(|reply, codec, out| encode_args(codec, reply, out.writer()))
    }
}

/// The fallback half of [`Probe`]: only reached when the code does not compile anyway
/// (the [`assert_remote`] next to it fails).
#[doc(hidden)]
pub trait NotSerde<T: ?Sized> {
    /// Fails.
    fn encode(&self, value: &T, codec: Codec, out: &mut BytesMut) -> Result<(), CodecError> {
        let _ = (value, codec, out);
        Err(not_serde())
    }
}

/// The fallback half of [`Probe`], for decoding.
#[doc(hidden)]
pub trait NotSerdeOwned<T> {
    /// Fails.
    fn decode(&self, codec: Codec, bytes: &[u8]) -> Result<T, CodecError> {
        let _ = (codec, bytes);
        Err(not_serde())
    }
    /// A pending reply that fails.
    fn pending(&self, slot: crate::ReplyTo<T>) -> Box<dyn super::PendingReply>
    where
        T: Send + 'static,
    {
        Box::new(super::target::Failing(slot))
    }
    /// A reply slot whose replies fail.
    fn reply_to(&self, channel: super::ReplyChannel) -> crate::ReplyTo<T> {
        channel.into_reply_to(|_, _, _| Err(not_serde()))
    }
}

impl<T: ?Sized> NotSerde<T> for &Probe<T> {}
impl<T> NotSerdeOwned<T> for &Probe<T> {}

fn not_serde() -> CodecError {
    CodecError::new("not a serde type")
}

thread_local! {
    /// The address of the node whose message is being encoded on this thread, while
    /// `ENCODING`: local refs inside it travel with it, so the receiver can reach them.
    /// Kept between messages (most threads serve one node), so setting it is usually a
    /// pointer comparison.
    static HOME: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
    static ENCODING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where payloads are encoded, reused: the encoder writes into a warm buffer and each
    /// payload is copied out inline when short (no allocation), else exactly.
    static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Runs `f` with `home` as the address local refs serialize with.
pub(crate) fn with_home<R>(home: &Arc<str>, f: impl FnOnce() -> R) -> R {
    let set = HOME.with(|h| match h.try_borrow_mut() {
        Ok(mut current) => {
            if !current.as_ref().is_some_and(|c| Arc::ptr_eq(c, home)) {
                *current = Some(Arc::clone(home));
            }
            true
        }
        // Encoding inside an encoding of another node's message: keep the outer one.
        Err(_) => false,
    });
    let previous = ENCODING.with(|e| e.replace(set));
    let out = f();
    ENCODING.with(|e| e.set(previous));
    out
}

/// The address set by [`with_home`] on this thread, while it runs.
pub(crate) fn home() -> Option<Arc<str>> {
    if !ENCODING.with(std::cell::Cell::get) {
        return None;
    }
    HOME.with(|h| h.try_borrow().ok().and_then(|h| h.clone()))
}

/// Runs `f` on an empty buffer; returns its result and what it wrote.
pub(crate) fn scratch<R>(f: impl FnOnce(&mut BytesMut) -> R) -> (R, Payload) {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let out = f(&mut buf);
            let bytes = Payload::copy_from_slice(&buf);
            if buf.capacity() > 1 << 20 {
                // One huge message does not pin its buffer for the thread's life.
                *buf = BytesMut::new();
            }
            (out, bytes)
        }
        // Re-entered (an encoding inside an encoding): a buffer of its own.
        Err(_) => {
            let mut buf = BytesMut::new();
            let out = f(&mut buf);
            (out, buf.freeze().into())
        }
    })
}

thread_local! {
    /// A message from another node is being decoded on this thread: refs in it carry
    /// their home address.
    static FROM_WIRE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` as the decoding of a message from another node.
pub(crate) fn from_wire<R>(f: impl FnOnce() -> R) -> R {
    let previous = FROM_WIRE.with(|w| w.replace(true));
    let out = f();
    FROM_WIRE.with(|w| w.set(previous));
    out
}

/// `true` inside [`from_wire`].
pub(crate) fn is_from_wire() -> bool {
    FROM_WIRE.with(std::cell::Cell::get)
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
