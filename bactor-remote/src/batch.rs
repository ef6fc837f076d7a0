//! Batches of envelopes: built under a byte limit, unpacked with every index checked.
//!
//! A [`BatchBuilder`] takes envelopes one by one and keeps the exact encoded size of the
//! frame it will produce, so a batch never exceeds the receiver's frame limit, whatever
//! the payloads. Pids and names go into per-batch tables once; envelopes refer to them by
//! index, so a batch of a thousand asks to one actor carries its pid once. An envelope too
//! large to fit even alone is refused ([`Push::TooLarge`]) so that its sender can be told;
//! the connection is never put at risk by it.
//!
//! ```
//! use bactor_remote::{BatchBuilder, Envelope, Kind, Limits, Push, WirePid, unpack};
//!
//! let limits = Limits::default();
//! let mut batch = BatchBuilder::new(limits);
//! let target = WirePid { node: 2, id: 7, incarnation: 1 };
//! for n in 0..3u8 {
//!     let env = Envelope::new(target, Kind::Tell, "Counter::add", vec![n]);
//!     assert!(matches!(batch.push(env), Push::Added));
//! }
//! let frame = batch.finish();
//! assert!(prost::Message::encoded_len(&frame) <= limits.max_frame_bytes);
//! let Some(bactor_remote::proto::frame::Body::Batch(b)) = frame.body else { panic!("a batch") };
//! assert_eq!(b.pids.len(), 1); // the target once, for three envelopes
//! let back = unpack(b).unwrap();
//! assert_eq!(back.len(), 3);
//! assert_eq!(&back[2].payload[..], &[2]);
//! ```

use std::collections::HashMap;
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use prost::encoding::encoded_len_varint;

use crate::payload::{Name, Payload};
use crate::proto;

/// A process id on the wire: bactor's `Pid`, as numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct WirePid {
    /// The node the process lives on.
    pub node: u64,
    /// The process on that node.
    pub id: u64,
    /// The incarnation of the node that spawned it.
    pub incarnation: u64,
}

impl From<WirePid> for proto::Pid {
    fn from(p: WirePid) -> Self {
        proto::Pid {
            node: p.node,
            id: p.id,
            incarnation: p.incarnation,
        }
    }
}

impl From<&proto::Pid> for WirePid {
    fn from(p: &proto::Pid) -> Self {
        WirePid {
            node: p.node,
            id: p.id,
            incarnation: p.incarnation,
        }
    }
}

/// What an envelope is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A message without reply.
    Tell,
    /// A message whose sender waits for a reply with the same correlation id.
    Ask,
    /// The reply to an ask.
    Reply,
    /// The ask failed on the receiving node (unknown actor, undecodable payload...); the
    /// payload is a UTF-8 reason.
    Failure,
}

impl Kind {
    fn to_wire(self) -> proto::Kind {
        match self {
            Kind::Tell => proto::Kind::Tell,
            Kind::Ask => proto::Kind::Ask,
            Kind::Reply => proto::Kind::Reply,
            Kind::Failure => proto::Kind::Failure,
        }
    }

    fn from_wire(k: proto::Kind) -> Self {
        match k {
            proto::Kind::Tell => Kind::Tell,
            proto::Kind::Ask => Kind::Ask,
            proto::Kind::Reply => Kind::Reply,
            proto::Kind::Failure => Kind::Failure,
        }
    }
}

/// One message between nodes.
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Who it is for.
    pub target: WirePid,
    /// Who sent it, when replies or watches need to find their way back.
    pub sender: Option<WirePid>,
    /// Tell, ask, reply or failure.
    pub kind: Kind,
    /// What the payload is: an actor kind's method (`Counter::add`), a reply type.
    pub method: Name,
    /// The encoded message.
    pub payload: Payload,
    /// Matches a reply to its ask; 0 for a tell.
    pub correlation: u64,
    /// The message's headers, `(key, value)` (bactor's `Headers`); usually none.
    pub headers: Vec<(String, String)>,
}

impl Envelope {
    /// An envelope without sender or correlation id.
    pub fn new(
        target: WirePid,
        kind: Kind,
        method: impl Into<Name>,
        payload: impl Into<Payload>,
    ) -> Self {
        Envelope {
            target,
            sender: None,
            kind,
            method: method.into(),
            payload: payload.into(),
            correlation: 0,
            headers: Vec::new(),
        }
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("target", &self.target)
            .field("sender", &self.sender)
            .field("kind", &self.kind)
            .field("method", &self.method)
            .field("payload_len", &self.payload.len())
            .field("correlation", &self.correlation)
            .field("headers", &self.headers)
            .finish()
    }
}

/// How large a batch may grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest encoded frame, in bytes: the receiver's `max_decoding_message_size`.
    pub max_frame_bytes: usize,
    /// The most envelopes in one batch.
    pub max_envelopes: usize,
}

impl Limits {
    /// 4 MiB frames (gRPC's usual receive limit), 1,000 envelopes per batch.
    pub const DEFAULT: Limits = Limits {
        max_frame_bytes: 4 * 1024 * 1024,
        max_envelopes: 1000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The outcome of [`BatchBuilder::push`].
#[derive(Debug)]
pub enum Push {
    /// In the batch.
    Added,
    /// The batch is full (bytes or count): send it, then push this envelope again.
    Full(Envelope),
    /// This envelope alone would exceed the frame limit (`size` bytes as a frame of its
    /// own): it can never be sent, and its sender should be told.
    TooLarge {
        /// The envelope, handed back.
        envelope: Envelope,
        /// Its size as a frame of its own.
        size: usize,
    },
}

/// Builds one batch frame, keeping its exact encoded size under [`Limits`].
#[derive(Debug)]
pub struct BatchBuilder {
    limits: Limits,
    pids: Vec<proto::Pid>,
    names: Vec<String>,
    pid_index: HashMap<WirePid, u32>,
    name_index: HashMap<Name, u32>,
    last_pid: Option<(WirePid, u32)>,
    last_name: Option<(Name, u32)>,
    /// The records (see the protocol), one per envelope.
    packed: BytesMut,
    count: usize,
    /// The target and method indices of the last record.
    last_record: Option<(u32, u32)>,
    /// The encoded length of the tables.
    tables_len: usize,
}

/// Record flags: the kind in bits 0-1, then what follows.
const NEW_TARGET: u8 = 1 << 2;
const HAS_SENDER: u8 = 1 << 3;
const HAS_CORRELATION: u8 = 1 << 4;
const HAS_HEADERS: u8 = 1 << 5;
const KNOWN_FLAGS: u8 = 0b11_1111;

/// Bytes of a length-delimited field with a one-byte key holding `len` bytes.
fn field(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn varint(v: u64) -> usize {
    encoded_len_varint(v)
}

fn put_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

impl BatchBuilder {
    /// An empty batch.
    pub fn new(limits: Limits) -> Self {
        BatchBuilder {
            limits,
            pids: Vec::new(),
            names: Vec::new(),
            pid_index: HashMap::new(),
            name_index: HashMap::new(),
            last_pid: None,
            last_name: None,
            packed: BytesMut::new(),
            count: 0,
            last_record: None,
            tables_len: 0,
        }
    }

    /// Envelopes in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// `true` when no envelope has been added since the last [`finish`](Self::finish).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The exact encoded size of the frame [`finish`](Self::finish) would return now.
    pub fn frame_len(&self) -> usize {
        // `Frame.batch` is field 6 and `Batch.packed` field 4: one-byte keys; an empty
        // `packed` is not written.
        field(self.batch_len(self.packed.len()))
    }

    fn batch_len(&self, packed: usize) -> usize {
        self.tables_len + if packed == 0 { 0 } else { field(packed) }
    }

    /// Adds `envelope` if the batch stays within the limits.
    pub fn push(&mut self, envelope: Envelope) -> Push {
        let mut tables = 0;
        let pid_count = self.pids.len() as u32;
        let known_target = self.pid_index(&envelope.target);
        if known_target.is_none() {
            tables += field(proto::Pid::from(envelope.target).encoded_len());
        }
        // Indices are not known yet for new entries: count them at their final values.
        let target = known_target.unwrap_or(pid_count);
        let mut new_sender = None;
        let sender = match envelope.sender {
            None => None,
            Some(s) if s == envelope.target => Some(target),
            Some(s) => match self.pid_index(&s) {
                Some(i) => Some(i),
                None => {
                    tables += field(proto::Pid::from(s).encoded_len());
                    new_sender = Some(s);
                    Some(pid_count + u32::from(known_target.is_none()))
                }
            },
        };
        let known_name = self.name_index(&envelope.method);
        if known_name.is_none() {
            tables += field(envelope.method.len());
        }
        let method = known_name.unwrap_or(self.names.len() as u32);
        let mut flags = envelope.kind.to_wire() as u8 & 0b11;
        let mut record = 1;
        if self.last_record != Some((target, method)) {
            flags |= NEW_TARGET;
            record += varint(u64::from(target)) + varint(u64::from(method));
        }
        if let Some(sender) = sender {
            flags |= HAS_SENDER;
            record += varint(u64::from(sender));
        }
        if envelope.correlation != 0 {
            flags |= HAS_CORRELATION;
            record += varint(envelope.correlation);
        }
        if !envelope.headers.is_empty() {
            flags |= HAS_HEADERS;
            record += varint(envelope.headers.len() as u64)
                + envelope
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        varint(k.len() as u64) + k.len() + varint(v.len() as u64) + v.len()
                    })
                    .sum::<usize>();
        }
        let payload = envelope.payload.len();
        record += varint(payload as u64) + payload;
        let grown = field(self.tables_len + tables + field(self.packed.len() + record));
        if grown > self.limits.max_frame_bytes {
            if self.is_empty() {
                return Push::TooLarge {
                    envelope,
                    size: grown,
                };
            }
            // Alone in a fresh batch it may still fit: try again after a flush.
            return match Self::alone_size(&envelope) {
                size if size > self.limits.max_frame_bytes => Push::TooLarge { envelope, size },
                _ => Push::Full(envelope),
            };
        }
        if self.count >= self.limits.max_envelopes {
            return Push::Full(envelope);
        }
        if known_target.is_none() {
            self.pid_index.insert(envelope.target, pid_count);
            self.pids.push(envelope.target.into());
        }
        self.last_pid = Some((envelope.target, target));
        if let Some(s) = new_sender {
            self.pid_index.insert(s, self.pids.len() as u32);
            self.pids.push(s.into());
        }
        if known_name.is_none() {
            self.name_index
                .insert(envelope.method.clone(), self.names.len() as u32);
            self.names.push(envelope.method.to_string());
        }
        self.last_name = Some((envelope.method.clone(), method));
        self.tables_len += tables;
        let out = &mut self.packed;
        out.reserve(record);
        out.put_u8(flags);
        if flags & NEW_TARGET != 0 {
            put_varint(out, u64::from(target));
            put_varint(out, u64::from(method));
        }
        if let Some(sender) = sender {
            put_varint(out, u64::from(sender));
        }
        if envelope.correlation != 0 {
            put_varint(out, envelope.correlation);
        }
        if !envelope.headers.is_empty() {
            put_varint(out, envelope.headers.len() as u64);
            for (k, v) in &envelope.headers {
                put_varint(out, k.len() as u64);
                out.put_slice(k.as_bytes());
                put_varint(out, v.len() as u64);
                out.put_slice(v.as_bytes());
            }
        }
        put_varint(out, payload as u64);
        out.put_slice(&envelope.payload);
        self.last_record = Some((target, method));
        self.count += 1;
        Push::Added
    }

    /// The table index of `pid`, looking at the last one used first (a stream of
    /// messages to one actor needs no hashing).
    fn pid_index(&self, pid: &WirePid) -> Option<u32> {
        match self.last_pid {
            Some((last, i)) if last == *pid => Some(i),
            _ => self.pid_index.get(pid).copied(),
        }
    }

    /// The table index of `name`, the last one used first.
    fn name_index(&self, name: &Name) -> Option<u32> {
        match &self.last_name {
            Some((last, i)) if last == name => Some(*i),
            _ => self.name_index.get(name).copied(),
        }
    }

    /// The size of `envelope` as the only one of a frame.
    fn alone_size(envelope: &Envelope) -> usize {
        let mut b = BatchBuilder::new(Limits {
            max_frame_bytes: usize::MAX,
            max_envelopes: 1,
        });
        let _ = b.push(envelope.clone());
        b.frame_len()
    }

    /// The batch as a frame; the builder starts over, empty.
    pub fn finish(&mut self) -> proto::Frame {
        self.pid_index.clear();
        self.name_index.clear();
        self.last_pid = None;
        self.last_name = None;
        self.last_record = None;
        self.count = 0;
        self.tables_len = 0;
        let batch = proto::Batch {
            pids: std::mem::take(&mut self.pids),
            names: std::mem::take(&mut self.names),
            envelopes: Vec::new(),
            packed: self.packed.split().freeze(),
        };
        proto::Frame {
            body: Some(proto::frame::Body::Batch(batch)),
        }
    }
}

/// Why a frame from a peer was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The frame claims more bytes than the limit allows; nothing was allocated for it.
    TooLarge {
        /// The claimed size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a valid frame.
    Malformed(String),
    /// An envelope points outside its batch's tables.
    BadIndex {
        /// Which envelope.
        envelope: usize,
        /// Which field.
        field: &'static str,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::TooLarge { size, limit } => {
                write!(f, "frame of {size} bytes over the limit of {limit}")
            }
            WireError::Malformed(why) => write!(f, "malformed frame: {why}"),
            WireError::BadIndex { envelope, field } => {
                write!(f, "envelope {envelope}: `{field}` points outside the batch")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// Decodes a frame of `bytes`, refusing it before decoding anything when it is larger
/// than `limit`.
pub fn decode_frame(bytes: Bytes, limit: usize) -> Result<proto::Frame, WireError> {
    if bytes.len() > limit {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    proto::Frame::decode(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

/// The envelopes of a batch, with every table index, length and flag checked.
pub fn unpack(batch: proto::Batch) -> Result<Vec<Envelope>, WireError> {
    let pids: Vec<WirePid> = batch.pids.iter().map(WirePid::from).collect();
    let names: Vec<Name> = batch.names.into_iter().map(Name::from).collect();
    let mut out = Vec::with_capacity(batch.envelopes.len());
    for (i, e) in batch.envelopes.into_iter().enumerate() {
        let bad = |field| WireError::BadIndex { envelope: i, field };
        let target = *pids.get(e.target as usize).ok_or(bad("target"))?;
        let sender = match e.sender {
            0 => None,
            n => Some(*pids.get(n as usize - 1).ok_or(bad("sender"))?),
        };
        let method = names.get(e.method as usize).ok_or(bad("method"))?.clone();
        let kind = proto::Kind::try_from(e.kind).map_err(|_| bad("kind"))?;
        out.push(Envelope {
            target,
            sender,
            kind: Kind::from_wire(kind),
            method,
            payload: e.payload.into(),
            correlation: e.correlation,
            headers: e.headers.into_iter().map(|h| (h.key, h.value)).collect(),
        });
    }
    unpack_packed(&batch.packed, &pids, &names, &mut out)?;
    Ok(out)
}

/// Reads the records of `packed` (see the protocol) into `out`. Payloads are slices of
/// `packed`, not copies; every length is checked against what is left before use.
fn unpack_packed(
    packed: &Bytes,
    pids: &[WirePid],
    names: &[Name],
    out: &mut Vec<Envelope>,
) -> Result<(), WireError> {
    let mut at = 0;
    let mut current: Option<(WirePid, &Name)> = None;
    while at < packed.len() {
        let n = out.len();
        let bad = |field| WireError::BadIndex { envelope: n, field };
        let flags = packed[at];
        at += 1;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(WireError::Malformed(format!(
                "envelope {n}: unknown flags {flags:#04x}"
            )));
        }
        let kind = match flags & 0b11 {
            0 => Kind::Tell,
            1 => Kind::Ask,
            2 => Kind::Reply,
            _ => Kind::Failure,
        };
        if flags & NEW_TARGET != 0 {
            let target = read_varint(packed, &mut at, n)?;
            let method = read_varint(packed, &mut at, n)?;
            let target = *usize::try_from(target)
                .ok()
                .and_then(|t| pids.get(t))
                .ok_or(bad("target"))?;
            let method = usize::try_from(method)
                .ok()
                .and_then(|m| names.get(m))
                .ok_or(bad("method"))?;
            current = Some((target, method));
        }
        let (target, method) = current.ok_or_else(|| {
            WireError::Malformed(format!("envelope {n}: no target before the first record"))
        })?;
        let sender = if flags & HAS_SENDER != 0 {
            let s = read_varint(packed, &mut at, n)?;
            Some(
                *usize::try_from(s)
                    .ok()
                    .and_then(|s| pids.get(s))
                    .ok_or(bad("sender"))?,
            )
        } else {
            None
        };
        let correlation = if flags & HAS_CORRELATION != 0 {
            read_varint(packed, &mut at, n)?
        } else {
            0
        };
        let headers = if flags & HAS_HEADERS != 0 {
            read_headers(packed, &mut at, n)?
        } else {
            Vec::new()
        };
        let len = read_length(packed, &mut at, n, "a payload")?;
        let payload = Payload::slice_of(packed, at..at + len);
        at += len;
        out.push(Envelope {
            target,
            sender,
            kind,
            method: method.clone(),
            payload,
            correlation,
            headers,
        });
    }
    Ok(())
}

/// A length at `*at` whose bytes are all there.
fn read_length(packed: &[u8], at: &mut usize, n: usize, what: &str) -> Result<usize, WireError> {
    let len = read_varint(packed, at, n)?;
    let left = packed.len() - *at;
    usize::try_from(len)
        .ok()
        .filter(|l| *l <= left)
        .ok_or_else(|| {
            WireError::Malformed(format!(
                "envelope {n}: {what} of {len} bytes with {left} left"
            ))
        })
}

/// The headers of a record: a count, then each key and value as a length and UTF-8.
fn read_headers(
    packed: &[u8],
    at: &mut usize,
    n: usize,
) -> Result<Vec<(String, String)>, WireError> {
    let count = read_varint(packed, at, n)?;
    // Each pair takes at least two bytes: a larger count cannot be honest.
    let left = packed.len() - *at;
    let count = usize::try_from(count)
        .ok()
        .filter(|c| *c <= left / 2)
        .ok_or_else(|| {
            WireError::Malformed(format!("envelope {n}: {count} headers in {left} bytes"))
        })?;
    let text = |at: &mut usize, what| -> Result<String, WireError> {
        let len = read_length(packed, at, n, what)?;
        let s = std::str::from_utf8(&packed[*at..*at + len])
            .map_err(|_| WireError::Malformed(format!("envelope {n}: {what} that is not UTF-8")))?;
        *at += len;
        Ok(s.to_owned())
    };
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let key = text(at, "a header key")?;
        let value = text(at, "a header value")?;
        headers.push((key, value));
    }
    Ok(headers)
}

/// A varint at `*at`; at most ten bytes, all of them there.
fn read_varint(bytes: &[u8], at: &mut usize, envelope: usize) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = bytes.get(*at) else {
            return Err(WireError::Malformed(format!(
                "envelope {envelope}: truncated"
            )));
        };
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError::Malformed(format!(
        "envelope {envelope}: a varint longer than ten bytes"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u64) -> WirePid {
        WirePid {
            node: n % 3,
            id: n,
            incarnation: 1 + n % 2,
        }
    }

    fn random_envelope(rng: &mut fastrand::Rng) -> Envelope {
        let sizes = [0, 1, 10, 127, 128, 300, 16_383, 16_384, 70_000];
        let len = sizes[rng.usize(..sizes.len())];
        Envelope {
            target: pid(rng.u64(0..20)),
            sender: rng.bool().then(|| pid(rng.u64(0..40))),
            kind: [Kind::Tell, Kind::Ask, Kind::Reply, Kind::Failure][rng.usize(..4)],
            method: Name::from(format!("Kind{}::m{}", rng.u8(0..5), rng.u8(0..3))),
            payload: Payload::from((0..len).map(|_| rng.u8(..)).collect::<Vec<u8>>()),
            correlation: if rng.bool() { rng.u64(..) } else { 0 },
            headers: (0..[0, 0, 1, 3][rng.usize(..4)])
                .map(|i| (format!("k{i}"), "v".repeat(rng.usize(..200))))
                .collect(),
        }
    }

    /// Random envelopes under tight limits: every frame is exactly the size the builder
    /// said, never over the limit, and unpacks to the envelopes pushed, in order.
    #[test]
    fn frames_stay_under_the_limit_and_round_trip() {
        let mut rng = fastrand::Rng::with_seed(7);
        for limit in [64, 200, 1_000, 20_000, 100_000] {
            let limits = Limits {
                max_frame_bytes: limit,
                max_envelopes: 50,
            };
            let mut b = BatchBuilder::new(limits);
            let (mut sent, mut frames, mut too_large) = (Vec::new(), Vec::new(), 0);
            let mut pending: Vec<Envelope> = (0..400).map(|_| random_envelope(&mut rng)).collect();
            pending.reverse();
            while let Some(env) = pending.pop() {
                match b.push(env.clone()) {
                    Push::Added => sent.push(env),
                    Push::Full(env) => {
                        assert!(!b.is_empty());
                        frames.push((b.frame_len(), b.finish()));
                        pending.push(env);
                    }
                    Push::TooLarge { envelope, size } => {
                        assert!(size > limit, "{size} fits in {limit}");
                        assert_eq!(envelope, env);
                        too_large += 1;
                    }
                }
            }
            if !b.is_empty() {
                frames.push((b.frame_len(), b.finish()));
            }
            let mut back = Vec::new();
            for (predicted, frame) in frames {
                let bytes = frame.encode_to_vec();
                assert_eq!(bytes.len(), predicted, "the builder's size is exact");
                assert!(bytes.len() <= limit);
                let Some(proto::frame::Body::Batch(batch)) =
                    decode_frame(Bytes::from(bytes), limit).unwrap().body
                else {
                    panic!("not a batch")
                };
                let envelopes = unpack(batch).unwrap();
                assert!(envelopes.len() <= 50);
                back.extend(envelopes);
            }
            assert_eq!(back, sent, "limit {limit}");
            assert_eq!(sent.len() + too_large, 400);
        }
    }

    #[test]
    fn pids_and_names_are_sent_once_per_batch() {
        let mut b = BatchBuilder::new(Limits::default());
        let (t, s) = (pid(1), pid(2));
        for n in 0..100u64 {
            let mut e = Envelope::new(t, Kind::Ask, "Counter::add", vec![0; 8]);
            e.sender = Some(if n % 2 == 0 { s } else { t });
            e.correlation = n + 1;
            assert!(matches!(b.push(e), Push::Added));
        }
        let Some(proto::frame::Body::Batch(batch)) = b.finish().body else {
            panic!()
        };
        assert_eq!(batch.pids.len(), 2);
        assert_eq!(batch.names, ["Counter::add"]);
        let back = unpack(batch).unwrap();
        assert_eq!(back[0].sender, Some(s));
        assert_eq!(back[1].sender, Some(t));
        assert_eq!(back[99].correlation, 100);
        // The builder starts over after `finish`.
        assert!(b.is_empty());
        assert_eq!(b.frame_len(), 2);
    }

    #[test]
    fn the_count_limit_holds() {
        let mut b = BatchBuilder::new(Limits {
            max_frame_bytes: usize::MAX,
            max_envelopes: 3,
        });
        for _ in 0..3 {
            assert!(matches!(
                b.push(Envelope::new(pid(1), Kind::Tell, "a", vec![])),
                Push::Added
            ));
        }
        assert!(matches!(
            b.push(Envelope::new(pid(1), Kind::Tell, "a", vec![])),
            Push::Full(_)
        ));
    }

    #[test]
    fn an_oversized_envelope_is_refused_not_sent() {
        let limits = Limits {
            max_frame_bytes: 1024,
            max_envelopes: 1000,
        };
        let mut b = BatchBuilder::new(limits);
        assert!(matches!(
            b.push(Envelope::new(pid(1), Kind::Tell, "small", vec![1; 10])),
            Push::Added
        ));
        // Refused even with a batch under way, which stays as it was.
        let before = b.frame_len();
        match b.push(Envelope::new(pid(1), Kind::Tell, "big", vec![0; 2000])) {
            Push::TooLarge { size, .. } => assert!(size > 1024),
            other => panic!("{other:?}"),
        }
        assert_eq!(b.frame_len(), before);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn frames_over_the_limit_are_refused_before_decoding() {
        let frame = {
            let mut b = BatchBuilder::new(Limits::default());
            let _ = b.push(Envelope::new(pid(1), Kind::Tell, "m", vec![0; 100]));
            b.finish().encode_to_vec()
        };
        assert_eq!(
            decode_frame(Bytes::from(frame.clone()), 50),
            Err(WireError::TooLarge {
                size: frame.len(),
                limit: 50
            })
        );
        assert!(decode_frame(Bytes::from(frame), 1000).is_ok());
    }

    #[test]
    fn indices_outside_the_tables_are_errors() {
        let env = |target, sender, method, kind| proto::Envelope {
            target,
            sender,
            kind,
            method,
            payload: Bytes::new(),
            correlation: 0,
            headers: Vec::new(),
        };
        let batch = |e| proto::Batch {
            pids: vec![pid(1).into()],
            names: vec!["m".into()],
            envelopes: vec![env(0, 0, 0, 0), e],
            packed: Bytes::new(),
        };
        let err = |e| unpack(batch(e)).unwrap_err();
        assert_eq!(
            err(env(1, 0, 0, 0)),
            WireError::BadIndex {
                envelope: 1,
                field: "target"
            }
        );
        assert_eq!(
            err(env(0, 2, 0, 0)),
            WireError::BadIndex {
                envelope: 1,
                field: "sender"
            }
        );
        assert_eq!(
            err(env(0, 0, 5, 0)),
            WireError::BadIndex {
                envelope: 1,
                field: "method"
            }
        );
        assert_eq!(
            err(env(0, 0, 0, 99)),
            WireError::BadIndex {
                envelope: 1,
                field: "kind"
            }
        );
        assert_eq!(
            err(env(u32::MAX, 0, 0, 0)),
            WireError::BadIndex {
                envelope: 1,
                field: "target"
            }
        );
        assert_eq!(
            unpack(batch(env(0, 1, 0, 2))).unwrap()[1].sender,
            Some(pid(1))
        );
    }

    #[test]
    fn packed_records_are_checked() {
        let batch = |packed: &[u8]| proto::Batch {
            pids: vec![pid(1).into()],
            names: vec!["m".into()],
            envelopes: Vec::new(),
            packed: Bytes::copy_from_slice(packed),
        };
        let unpacked = |packed: &[u8]| unpack(batch(packed));
        // tell to pid 0, method 0, payload [7, 8]; then the same target, an ask with a
        // correlation id and an empty payload.
        let good = [
            NEW_TARGET,
            0,
            0,
            2,
            7,
            8,
            1 | HAS_CORRELATION,
            0x96,
            0x01,
            0,
        ];
        let back = unpacked(&good).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(&back[0].payload[..], &[7, 8]);
        assert_eq!((back[1].kind, back[1].correlation), (Kind::Ask, 150));
        assert_eq!(back[1].target, pid(1));
        assert!(back[0].headers.is_empty());
        // A tell with one header `k: vv` and an empty payload.
        let headed = unpacked(&[NEW_TARGET | HAS_HEADERS, 0, 0, 1, 1, b'k', 2, b'v', b'v', 0]);
        assert_eq!(headed.unwrap()[0].headers, [("k".into(), "vv".into())]);
        // Each way of being wrong is an error.
        let cases: [&[u8]; 12] = [
            &[0, 0],                                             // no target before the first record
            &[NEW_TARGET | 0x40, 0, 0, 0],                       // unknown flag
            &[NEW_TARGET | HAS_HEADERS, 0, 0, 9, 1, b'k', 0, 0], // more headers than bytes
            &[NEW_TARGET | HAS_HEADERS, 0, 0, 1, 5, b'k', 0, 0], // key longer than left
            &[NEW_TARGET | HAS_HEADERS, 0, 0, 1, 1, 0xff, 0, 0], // key not UTF-8
            &[NEW_TARGET | HAS_HEADERS, 0, 0, 1, 1, b'k'],       // value missing
            &[NEW_TARGET, 1, 0, 0],                              // target outside the table
            &[NEW_TARGET, 0, 3, 0],                              // method outside the table
            &[NEW_TARGET | HAS_SENDER, 0, 0, 9, 0],              // sender outside the table
            &[NEW_TARGET, 0, 0, 5, 1, 2],                        // payload longer than what is left
            &[NEW_TARGET, 0, 0, 0xff],                           // truncated varint
            &[
                NEW_TARGET, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ],
        ];
        for case in cases {
            assert!(unpacked(case).is_err(), "{case:?}");
        }
        // A length that claims more than the frame holds allocates nothing: it is
        // refused by comparison.
        let huge = [NEW_TARGET, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(unpacked(&huge).is_err());
    }

    /// Random, truncated and mutated bytes: decoding and unpacking answer with a value or
    /// an error, never a panic.
    #[test]
    fn garbage_never_panics() {
        let mut rng = fastrand::Rng::with_seed(42);
        let good = {
            let mut b = BatchBuilder::new(Limits::default());
            for _ in 0..20 {
                let _ = b.push(random_envelope(&mut rng));
            }
            b.finish().encode_to_vec()
        };
        let mut errors = 0;
        for round in 0..100_000 {
            let bytes: Vec<u8> = match round % 3 {
                0 => (0..rng.usize(..300)).map(|_| rng.u8(..)).collect(),
                1 => good[..rng.usize(..good.len())].to_vec(),
                _ => {
                    let mut b = good.clone();
                    for _ in 0..rng.usize(1..8) {
                        let i = rng.usize(..b.len());
                        b[i] = rng.u8(..);
                    }
                    b
                }
            };
            match decode_frame(Bytes::from(bytes), 1 << 20) {
                Ok(proto::Frame {
                    body: Some(proto::frame::Body::Batch(batch)),
                }) => {
                    if unpack(batch).is_err() {
                        errors += 1;
                    }
                }
                Ok(_) => {}
                Err(_) => errors += 1,
            }
        }
        assert!(errors > 50_000, "most garbage is refused: {errors}");
    }
}
