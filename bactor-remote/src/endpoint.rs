//! A node's endpoint: a gRPC server that accepts peers, and one stream per peer that
//! carries batches both ways.
//!
//! [`Endpoint::send`] queues an envelope for a peer by address. The first send to a peer
//! dials it and runs the [`handshake`] protocol; afterwards a writer task drains
//! the queue into batches of whatever is pending (no linger timer), under the peer's frame
//! limit. A peer that dialled this node is reached over the stream it opened, so two nodes
//! that talk both ways share one stream. What arrives is handed to the [`Inbound`] of the
//! endpoint, in the order the peer sent it. An envelope that cannot be sent (too large for
//! any frame, a peer that cannot be reached or refuses the secret) is handed back through
//! [`Inbound::undeliverable`], never dropped silently.
//!
//! Delivery is at most once: frames already handed to the transport when a stream breaks
//! are lost with it (asks learn of it by their timeout, later by node-down); envelopes
//! still queued here are handed back.
//!
//! A stream with nothing to send carries a heartbeat every heartbeat interval; a stream
//! on which nothing at all arrives for the peer timeout is closed, its queue handed back,
//! and [`EndpointEvent::Disconnected`] reported. The next send to that peer dials again.
//!
//! A lost stream is dialled again (growing, jittered waits); a peer that cannot be
//! reached for the down timeout, or refuses this node, is reported
//! [`EndpointEvent::Down`] and what was queued for it is handed back.
//!
//! With the `tls` feature and [`EndpointConfig::tls`], every stream runs over TLS (rustls
//! with ring), the peer's certificate checked against the configured authority.
//!
//! Not here yet: bounded queues.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::handshake::{self, HandshakeError, Identity, Secret};
use crate::proto::frame::Body;
use crate::proto::remoting_client::RemotingClient;
use crate::proto::remoting_server::{Remoting, RemotingServer};
use crate::proto::{self, Frame};
use crate::transport::{Accepted, Connector, Transport};
use crate::{BatchBuilder, Envelope, Limits, Push, unpack};

/// The queues of envelopes for one peer: user traffic, counted against the bound, and
/// system envelopes (the control lane), which the writer sends ahead of user traffic.
#[derive(Clone)]
struct Queue {
    lane: Arc<UserLane>,
    sys: mpsc::UnboundedSender<Envelope>,
    count: Arc<Count>,
    max: usize,
}

/// The user traffic of one peer: senders push under a short lock and wake the writer
/// only when the lane was empty; the writer takes everything pending in one swap. No
/// per-envelope channel operation on either side.
#[derive(Default)]
struct UserLane {
    state: Mutex<LaneState>,
    /// Mirrors `state.closed`, for a check without the lock.
    closed: std::sync::atomic::AtomicBool,
    ready: tokio::sync::Notify,
}

#[derive(Default)]
struct LaneState {
    /// `Some` each; the writer takes them out one by one, in place, and hands the
    /// emptied buffer back, so neither side allocates in the steady state.
    items: Vec<Option<Envelope>>,
    closed: bool,
}

impl UserLane {
    fn state(&self) -> std::sync::MutexGuard<'_, LaneState> {
        // Every update is a push, a swap or a flag: a panic cannot leave it half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // The error hands the caller's own envelope back by value (see `Queue::push`).
    #[allow(clippy::result_large_err)]
    fn push(&self, envelope: Envelope) -> Result<(), Envelope> {
        let mut state = self.state();
        if state.closed {
            return Err(envelope);
        }
        state.items.push(Some(envelope));
        let first = state.items.len() == 1;
        drop(state);
        if first {
            // Stores a permit when the writer is not waiting yet: no wake-up is lost.
            self.ready.notify_one();
        }
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes what is pending into `into` (empty). `false` when nothing is and the lane is
    /// closed.
    fn take(&self, into: &mut Vec<Option<Envelope>>) -> bool {
        let mut state = self.state();
        std::mem::swap(&mut state.items, into);
        !(into.is_empty() && state.closed)
    }

    fn close(&self) {
        self.state().closed = true;
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.ready.notify_one();
    }
}

/// How many envelopes a queue holds, and a wake-up for senders waiting for room.
#[derive(Default)]
struct Count {
    queued: std::sync::atomic::AtomicUsize,
    room: tokio::sync::Notify,
}

type WeakQueue = std::sync::Weak<UserLane>;

impl Queue {
    /// Takes a place in the queue; `Err(queued)` when all `max` are taken.
    fn reserve(&self) -> Result<(), usize> {
        use std::sync::atomic::Ordering::Relaxed;
        let queued = self.count.queued.fetch_add(1, Relaxed);
        if queued >= self.max {
            self.count.queued.fetch_sub(1, Relaxed);
            return Err(queued);
        }
        Ok(())
    }

    /// Gives a place taken by [`reserve`](Queue::reserve) back unused.
    fn unreserve(&self) {
        self.count
            .queued
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.count.room.notify_waiters();
    }

    /// Queues `envelope` in a place taken before; hands it back (and the place) when the
    /// writer is gone.
    // The error hands the caller's own envelope back by value: boxing it would allocate
    // on a failure path for nothing.
    #[allow(clippy::result_large_err)]
    fn push(&self, envelope: Envelope) -> Result<(), (Envelope, WeakQueue)> {
        self.lane.push(envelope).map_err(|back| {
            self.unreserve();
            (back, self.downgrade())
        })
    }

    fn is_closed(&self) -> bool {
        self.lane.is_closed()
    }

    fn downgrade(&self) -> WeakQueue {
        Arc::downgrade(&self.lane)
    }

    /// Ends the writer (after it has handed back what is queued): for shutdown.
    fn shut(&self) {
        self.lane.close();
    }
}

/// The writer's end of a [`Queue`]. What it takes is counted out of the queue once per
/// batch ([`settle`](QueueRx::settle)), not once per envelope.
struct QueueRx {
    lane: Arc<UserLane>,
    /// Taken from the lane; the writer has handed on those before `at`.
    current: Vec<Option<Envelope>>,
    at: usize,
    sys: mpsc::UnboundedReceiver<Envelope>,
    count: Arc<Count>,
    taken: usize,
}

/// What [`QueueRx::recv_any`] took.
enum Next {
    System(Envelope),
    User(Envelope),
    /// The user lane is closed: this node is done with the peer.
    Closed,
}

fn queue(max: usize) -> (Queue, QueueRx) {
    let lane = Arc::new(UserLane::default());
    let (sys_tx, sys_rx) = mpsc::unbounded_channel();
    let count = Arc::new(Count::default());
    (
        Queue {
            lane: Arc::clone(&lane),
            sys: sys_tx,
            count: Arc::clone(&count),
            max,
        },
        QueueRx {
            lane,
            current: Vec::new(),
            at: 0,
            sys: sys_rx,
            count,
            taken: 0,
        },
    )
}

impl QueueRx {
    /// Refills the local buffer from the lane; `false` when the lane is closed and
    /// drained.
    fn refill(&mut self) -> bool {
        if self.at < self.current.len() {
            return true;
        }
        self.current.clear();
        self.at = 0;
        let open = self.lane.take(&mut self.current);
        self.taken += self.current.len();
        open
    }

    /// The next envelope already taken from the lane.
    fn next_taken(&mut self) -> Option<Envelope> {
        let slot = self.current.get_mut(self.at)?;
        self.at += 1;
        slot.take()
    }

    async fn recv(&mut self) -> Option<Envelope> {
        let lane = Arc::clone(&self.lane);
        loop {
            let ready = lane.ready.notified();
            tokio::pin!(ready);
            // Registered before looking, so a push in between is not missed.
            ready.as_mut().enable();
            let open = self.refill();
            if let Some(envelope) = self.next_taken() {
                return Some(envelope);
            }
            if !open {
                return None;
            }
            ready.await;
        }
    }

    /// The next envelope of either lane, the control lane first.
    async fn recv_any(&mut self) -> Next {
        let lane = Arc::clone(&self.lane);
        loop {
            if let Ok(envelope) = self.sys.try_recv() {
                return Next::System(envelope);
            }
            let ready = lane.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            let open = self.refill();
            if let Some(envelope) = self.next_taken() {
                return Next::User(envelope);
            }
            if !open {
                return Next::Closed;
            }
            tokio::select! {
                biased;
                Some(envelope) = self.sys.recv() => return Next::System(envelope),
                () = ready => {}
            }
        }
    }

    fn try_recv(&mut self) -> Option<Envelope> {
        self.refill();
        self.next_taken()
    }

    /// Counts what was taken out of the queue, and wakes the senders waiting for room.
    fn settle(&mut self) {
        if self.taken > 0 {
            self.count
                .queued
                .fetch_sub(self.taken, std::sync::atomic::Ordering::Relaxed);
            self.taken = 0;
            self.count.room.notify_waiters();
        }
    }

    fn close(&mut self) {
        self.lane.close();
        self.sys.close();
    }
}

impl Drop for QueueRx {
    fn drop(&mut self) {
        // Senders find the lane closed and look for a new writer.
        self.lane.close();
    }
}

/// A handle to one peer's queue, for senders that send to the same peer again and again
/// (a remote actor ref): it keeps the queue found by the first send and looks it up again
/// only when its writer has ended, so a send costs no lookup in the endpoint's peer map.
///
/// Made by [`Endpoint::peer`]; cheap to clone.
#[derive(Clone)]
pub struct Peer {
    inner: Arc<Inner>,
    address: Arc<str>,
    queue: Arc<std::sync::RwLock<Queue>>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// The peer's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The live queue: the cached one, or (its writer ended) the one a lookup finds or
    /// dials.
    fn live(&self) -> Queue {
        let cached = self.queue.read().unwrap_or_else(PoisonError::into_inner);
        if !cached.is_closed() {
            return cached.clone();
        }
        drop(cached);
        self.refresh()
    }

    #[cold]
    fn refresh(&self) -> Queue {
        let mut cached = self.queue.write().unwrap_or_else(PoisonError::into_inner);
        if cached.is_closed() {
            self.inner.forget(&self.address, &cached.downgrade());
            *cached = with_queue(&self.inner, &self.address, Queue::clone);
        }
        cached.clone()
    }

    /// Takes a place in the peer's queue and fills it with what `make` returns, without
    /// waiting: [`SendError::Overloaded`] (and `make` not called) when the queue is full,
    /// [`SendError::Closed`] when the endpoint is shutting down. `make` returning `None`
    /// gives the place back.
    pub fn try_send_with(&self, make: impl FnOnce() -> Option<Envelope>) -> Result<(), SendError> {
        if self.inner.is_stopping() {
            return Err(SendError::Closed);
        }
        let cached = self.queue.read().unwrap_or_else(PoisonError::into_inner);
        let left = if cached.is_closed() {
            drop(cached);
            self.fill(&self.refresh(), make)
        } else {
            let filled = self.fill(&cached, make);
            drop(cached);
            filled
        }?;
        // The guard is gone here: a fresh push may take the write lock.
        if let Some(envelope) = left {
            self.push_fresh(envelope);
        }
        Ok(())
    }

    /// Takes a place in `queue` and fills it with what `make` returns. `Ok(Some(..))`
    /// hands back an envelope whose writer ended after the place was granted.
    fn fill(
        &self,
        queue: &Queue,
        make: impl FnOnce() -> Option<Envelope>,
    ) -> Result<Option<Envelope>, SendError> {
        if let Err(queued) = queue.reserve() {
            return Err(SendError::Overloaded {
                peer: self.address.to_string(),
                queued,
            });
        }
        let Some(envelope) = make() else {
            queue.unreserve();
            return Ok(None);
        };
        Ok(queue.push(envelope).err().map(|(envelope, _)| envelope))
    }

    /// The writer ended between the reservation and the push: one more try on a fresh
    /// queue, past the bound (the place was granted).
    #[cold]
    fn push_fresh(&self, envelope: Envelope) {
        let queue = self.refresh();
        queue
            .count
            .queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err((envelope, _)) = queue.push(envelope) {
            self.inner
                .inbound
                .undeliverable(envelope, closed_twice(&self.address));
        }
    }

    /// Like [`try_send_with`](Self::try_send_with), but waits for room in a full queue
    /// (see [`Endpoint::reserve`]).
    pub async fn send_with(
        &self,
        make: impl FnOnce() -> Option<Envelope>,
    ) -> Result<(), SendError> {
        loop {
            if self.inner.is_stopping() {
                return Err(SendError::Closed);
            }
            let queue = self.live();
            let room = Arc::clone(&queue.count);
            let notified = room.room.notified();
            tokio::pin!(notified);
            // Registered before trying, so room made in between is not missed.
            notified.as_mut().enable();
            if queue.reserve().is_ok() {
                let Some(envelope) = make() else {
                    queue.unreserve();
                    return Ok(());
                };
                if let Err((envelope, _)) = queue.push(envelope) {
                    self.push_fresh(envelope);
                }
                return Ok(());
            }
            notified.await;
        }
    }

    /// Queues a system envelope on the peer's control lane (see
    /// [`Endpoint::send_system`]).
    pub fn send_system(&self, envelope: Envelope) {
        if self.inner.is_stopping() {
            self.inner
                .inbound
                .undeliverable(envelope, SendError::Closed);
            return;
        }
        let queue = self.live();
        if let Err(back) = queue.sys.send(envelope) {
            let queue = self.refresh();
            if let Err(back) = queue.sys.send(back.0) {
                self.inner
                    .inbound
                    .undeliverable(back.0, closed_twice(&self.address));
            }
        }
    }
}

/// A place in a peer's queue, taken by [`Endpoint::try_reserve`] or
/// [`Endpoint::reserve`]: [`send`](Permit::send) then queues one envelope without any
/// further check of the bound. Dropped unused, the place is given back.
///
/// Taking the place first lets a caller learn that a peer's queue is full while it still
/// owns what it meant to send, and build the envelope only once it is sure to go out.
pub struct Permit {
    inner: Arc<Inner>,
    queue: Option<Queue>,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

impl Permit {
    /// Queues `envelope` for the peer at `address` (the address the permit was taken
    /// for). Never waits; an envelope that cannot be sent after all (the peer's writer
    /// ended twice in a row) comes back through [`Inbound::undeliverable`].
    pub fn send(mut self, address: &str, envelope: Envelope) {
        let Some(queue) = self.queue.take() else {
            return;
        };
        let (envelope, stale) = match queue.push(envelope) {
            Ok(()) => return,
            Err(back) => back,
        };
        // The writer found ended just now: one more try on a fresh one, past the bound
        // (the place was granted).
        self.inner.forget(address, &stale);
        let queue = with_queue(&self.inner, address, Queue::clone);
        queue
            .count
            .queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Err((envelope, _)) = queue.push(envelope) {
            self.inner
                .inbound
                .undeliverable(envelope, closed_twice(address));
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.unreserve();
        }
    }
}

/// Frames waiting to be written to one stream: the writer waits when the network is slow.
const FRAME_QUEUE: usize = 16;

/// Where an endpoint hands what arrives, and what could not be sent.
pub trait Inbound: Send + Sync + 'static {
    /// An envelope from the peer `from`, in the order the peer sent it.
    fn deliver(&self, from: &Identity, envelope: Envelope);
    /// Like [`deliver`](Inbound::deliver), for an inbound that may need to wait (a full
    /// mailbox): the returned future is awaited before the next envelope from `from` is
    /// read, which slows the peer down through the stream's flow control instead of
    /// queueing without bound. Calls `deliver` and never waits unless implemented.
    fn deliver_or_wait(&self, from: &Identity, envelope: Envelope) -> Option<Wait> {
        self.deliver(from, envelope);
        None
    }
    /// Delivers the envelopes of one frame, in order, until one needs a wait: then
    /// returns it, and is called again with the rest once it is done. An inbound that
    /// does per-frame work once (a lookup shared by many envelopes) implements this;
    /// by default it calls [`deliver_or_wait`](Inbound::deliver_or_wait) for each.
    fn deliver_frame(
        &self,
        from: &Identity,
        envelopes: &mut std::vec::IntoIter<Envelope>,
    ) -> Option<Wait> {
        for envelope in envelopes {
            if let Some(wait) = self.deliver_or_wait(from, envelope) {
                return Some(wait);
            }
        }
        None
    }
    /// An envelope this node could not send.
    fn undeliverable(&self, envelope: Envelope, error: SendError);
    /// A stream to a peer opened or closed. Does nothing unless implemented.
    fn event(&self, event: EndpointEvent) {
        let _ = event;
    }
}

/// What [`Inbound::deliver_or_wait`] hands back when it must wait before the next
/// envelope.
pub type Wait = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What happened to the stream to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointEvent {
    /// A stream to `peer` is open (after the handshake), dialled by this node or by it.
    Connected {
        /// Who the peer is; a new `incarnation` for a known address means it restarted.
        peer: Identity,
    },
    /// The stream to `peer` closed: the peer hung up, broke the protocol, or sent nothing
    /// for longer than the peer timeout.
    Disconnected {
        /// Who the peer was.
        peer: Identity,
        /// Why.
        reason: String,
    },
    /// The peer at this address is a new run of a node this endpoint knew (another
    /// incarnation): whatever lived on the old one is gone. Reported before its
    /// `Connected`.
    Restarted {
        /// The new run.
        peer: Identity,
        /// The incarnation it had before.
        previous: u64,
    },
    /// The peer at `address` counts as down: no stream to it could be opened for the
    /// down timeout (or it refused this node). What was queued for it is handed back.
    Down {
        /// The peer's address.
        address: String,
        /// The last reason a stream could not be opened.
        reason: String,
    },
}

/// Why an envelope could not be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Larger than any frame the peer accepts.
    TooLarge {
        /// Its size as a frame of its own.
        size: usize,
        /// The peer's frame limit.
        limit: usize,
    },
    /// The peer could not be reached, refused the handshake, or the stream broke.
    Unreachable {
        /// The peer's address.
        peer: String,
        /// What happened.
        reason: String,
    },
    /// Too many envelopes are queued for the peer already (it is slow, or unreachable
    /// and not yet reported down): this one is refused rather than queued without limit.
    Overloaded {
        /// The peer's address.
        peer: String,
        /// Envelopes queued for it.
        queued: usize,
    },
    /// The endpoint is shutting down.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::TooLarge { size, limit } => write!(
                f,
                "a message of {size} bytes is larger than the peer's frame limit of {limit}"
            ),
            SendError::Unreachable { peer, reason } => write!(f, "{peer} unreachable: {reason}"),
            SendError::Overloaded { peer, queued } => {
                write!(f, "{queued} envelopes already queued for {peer}")
            }
            SendError::Closed => f.write_str("the endpoint is shut down"),
        }
    }
}

impl std::error::Error for SendError {}

/// Why an endpoint could not start.
#[derive(Debug)]
pub struct BindError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot start the endpoint: {}", self.0)
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl BindError {
    fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        BindError(e.into())
    }
}

/// TLS for the streams of an endpoint (feature `tls`): the certificate this node presents
/// to the peers that dial it, and the authority it trusts when it dials.
///
/// With TLS, every node of a cluster needs it: a node without TLS cannot reach one with it,
/// and the other way round. The cluster secret is checked inside the TLS stream as well.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub struct TlsConfig {
    /// This node's certificate chain, PEM.
    pub cert_pem: Vec<u8>,
    /// Its private key, PEM.
    pub key_pem: Vec<u8>,
    /// The certificate authority that signed the peers' certificates, PEM.
    pub ca_pem: Vec<u8>,
    /// The name the dialled peers' certificates must carry; the host of the address
    /// dialled when `None`.
    pub domain: Option<String>,
}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key stays out of logs.
        f.debug_struct("TlsConfig")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// How an endpoint listens and whom it lets in.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// The address to listen on (port 0 picks a free one).
    pub bind: SocketAddr,
    /// The address peers reach this node at; the bound address when `None`.
    pub advertised: Option<String>,
    /// The shared cluster secret.
    pub secret: Secret,
    /// This run of the node; a fresh random number by default.
    pub incarnation: u64,
    /// Frame size and batch count limits (the frame limit is also the gRPC message limit,
    /// both ways).
    pub limits: Limits,
    /// How long connecting and the handshake may take.
    pub handshake_timeout: Duration,
    /// How often a stream with nothing to send carries a heartbeat.
    pub heartbeat_interval: Duration,
    /// How long a stream may stay silent (no frame at all) before its peer counts as gone
    /// and the stream is closed.
    pub peer_timeout: Duration,
    /// The first wait between two failed dials of a peer; it doubles up to
    /// `reconnect_max`, with ±20 % jitter.
    pub reconnect_min: Duration,
    /// The longest wait between two dials.
    pub reconnect_max: Duration,
    /// How long a peer may stay unreachable (after its stream was lost, or from the first
    /// dial) before it is reported [`EndpointEvent::Down`] and its queue handed back.
    pub down_after: Duration,
    /// The most envelopes queued for one peer; more are handed back as
    /// [`SendError::Overloaded`].
    pub max_queued: usize,
    /// TLS on every stream (feature `tls`); plaintext when `None`.
    #[cfg(feature = "tls")]
    pub tls: Option<TlsConfig>,
    /// How to listen and dial; real TCP (with `TCP_NODELAY`) when `None`. A network
    /// simulator plugs in here.
    pub transport: Option<Arc<dyn Transport>>,
    /// Seeds the jitter of reconnection waits, for runs that must repeat exactly (a
    /// simulation replayed from its seed); fresh randomness when `None`.
    pub jitter_seed: Option<u64>,
}

impl EndpointConfig {
    /// Listens on `bind`, admits peers that know `secret`, default limits.
    pub fn new(bind: SocketAddr, secret: Secret) -> Self {
        EndpointConfig {
            bind,
            advertised: None,
            secret,
            incarnation: fresh_incarnation(),
            limits: Limits::DEFAULT,
            handshake_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(1),
            peer_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            down_after: Duration::from_secs(10),
            max_queued: 100_000,
            #[cfg(feature = "tls")]
            tls: None,
            transport: None,
            jitter_seed: None,
        }
    }
}

fn fresh_incarnation() -> u64 {
    let mut bytes = [0; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: the clock still tells two runs apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos());
        return nanos as u64 | 1;
    }
    u64::from_be_bytes(bytes) | 1
}

struct Inner {
    me: Identity,
    secret: Secret,
    limits: Limits,
    handshake_timeout: Duration,
    heartbeat_interval: Duration,
    peer_timeout: Duration,
    reconnect_min: Duration,
    reconnect_max: Duration,
    down_after: Duration,
    max_queued: usize,
    #[cfg(feature = "tls")]
    tls: Option<TlsConfig>,
    transport: Option<Arc<dyn Transport>>,
    /// The state of the jitter generator when seeded.
    jitter: Option<Mutex<u64>>,
    inbound: Arc<dyn Inbound>,
    /// The queue of each peer's writer, by address.
    peers: Mutex<HashMap<String, Queue>>,
    stopping: watch::Receiver<bool>,
    /// The same as `stopping`, readable on every send without a lock.
    stopped: std::sync::atomic::AtomicBool,
    /// The last incarnation seen at each address, to recognise a restarted peer.
    incarnations: Mutex<HashMap<String, u64>>,
}

impl Inner {
    fn peers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Queue>> {
        // The map stays consistent whatever panicked while it was held.
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a peer met in a handshake; reports [`EndpointEvent::Restarted`] when its
    /// address was last seen with another incarnation, then, for a stream this node
    /// writes on (`connected`), [`EndpointEvent::Connected`]. Both under the lock: when
    /// two streams to a restarted peer open at once, `Restarted` still comes before
    /// either `Connected`.
    fn met(&self, peer: &Identity, connected: bool) {
        let mut incarnations = self
            .incarnations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let previous = incarnations.insert(peer.address.clone(), peer.incarnation);
        if let Some(previous) = previous.filter(|p| *p != peer.incarnation) {
            self.inbound.event(EndpointEvent::Restarted {
                peer: peer.clone(),
                previous,
            });
        }
        if connected {
            self.inbound
                .event(EndpointEvent::Connected { peer: peer.clone() });
        }
    }

    /// A random number for the jitter: from the seeded generator (xorshift64) when there
    /// is one, fresh randomness otherwise.
    fn random(&self) -> u16 {
        match &self.jitter {
            Some(state) => {
                let mut x = state.lock().unwrap_or_else(PoisonError::into_inner);
                *x ^= *x << 13;
                *x ^= *x >> 7;
                *x ^= *x << 17;
                (*x >> 48) as u16
            }
            None => {
                let mut r = [0u8; 2];
                let _ = getrandom::fill(&mut r);
                u16::from_be_bytes(r)
            }
        }
    }

    fn is_stopping(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Forgets `address`'s writer if it is still `queue`'s.
    fn forget(&self, address: &str, queue: &WeakQueue) {
        let mut peers = self.peers();
        if let Some(current) = peers.get(address)
            && std::ptr::eq(queue.as_ptr(), Arc::as_ptr(&current.lane))
        {
            peers.remove(address);
        }
    }
}

/// Where an endpoint's server takes its connections from.
enum Listening {
    Tcp(tonic::transport::server::TcpIncoming),
    Other(crate::transport::Accepting),
}

/// A node's endpoint. See the [module docs](self).
///
/// ```
/// use std::sync::mpsc;
/// use bactor_remote::endpoint::{Endpoint, EndpointConfig, Inbound, SendError};
/// use bactor_remote::handshake::{Identity, Secret};
/// use bactor_remote::{Envelope, Kind, WirePid};
///
/// struct Collect(std::sync::Mutex<mpsc::Sender<Envelope>>);
///
/// impl Inbound for Collect {
///     fn deliver(&self, _from: &Identity, envelope: Envelope) {
///         let _ = self.0.lock().unwrap().send(envelope);
///     }
///     fn undeliverable(&self, envelope: Envelope, error: SendError) {
///         panic!("{envelope:?}: {error}");
///     }
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let secret = Secret::new(b"cluster secret".to_vec());
/// let any_port = "127.0.0.1:0".parse()?;
/// let (tx, rx) = mpsc::channel();
/// let a = Endpoint::bind(EndpointConfig::new(any_port, secret.clone()), Collect(tx.clone().into())).await?;
/// let b = Endpoint::bind(EndpointConfig::new(any_port, secret), Collect(tx.into())).await?;
/// let to = WirePid { node: 2, id: 1, incarnation: b.identity().incarnation };
/// a.send(&b.identity().address, Envelope::new(to, Kind::Tell, "Counter::add", vec![5]));
/// let got = tokio::task::spawn_blocking(move || rx.recv()).await??;
/// assert_eq!(&got.payload[..], &[5]);
/// a.shutdown().await;
/// b.shutdown().await;
/// # Ok(()) }
/// ```
pub struct Endpoint {
    inner: Arc<Inner>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("identity", &self.inner.me)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Binds the listening socket and starts serving.
    pub async fn bind(
        config: EndpointConfig,
        inbound: impl Inbound,
    ) -> Result<Endpoint, BindError> {
        let (local_addr, incoming) = match &config.transport {
            None => {
                let tcp = tonic::transport::server::TcpIncoming::bind(config.bind)
                    .map_err(BindError::new)?
                    .with_nodelay(Some(true));
                (
                    tcp.local_addr().map_err(BindError::new)?,
                    Listening::Tcp(tcp),
                )
            }
            Some(transport) => {
                let (local, accepting) = transport
                    .listen(config.bind)
                    .await
                    .map_err(BindError::new)?;
                (local, Listening::Other(accepting))
            }
        };
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut server = tonic::transport::Server::builder();
        #[cfg(feature = "tls")]
        if let Some(tls) = &config.tls {
            let identity = tonic::transport::Identity::from_pem(&tls.cert_pem, &tls.key_pem);
            server = server
                .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
                .map_err(BindError::new)?;
        }
        let (stop, stopping) = watch::channel(false);
        let limit = config.limits.max_frame_bytes;
        let me = Identity {
            address: config
                .advertised
                .clone()
                .unwrap_or_else(|| local_addr.to_string()),
            incarnation: config.incarnation,
            max_frame_bytes: u32::try_from(limit).unwrap_or(u32::MAX),
        };
        let inner = Arc::new(Inner {
            me,
            secret: config.secret,
            limits: config.limits,
            handshake_timeout: config.handshake_timeout,
            heartbeat_interval: config.heartbeat_interval,
            peer_timeout: config.peer_timeout,
            reconnect_min: config.reconnect_min,
            reconnect_max: config.reconnect_max.max(config.reconnect_min),
            down_after: config.down_after,
            max_queued: config.max_queued.max(1),
            #[cfg(feature = "tls")]
            tls: config.tls.clone(),
            transport: config.transport.clone(),
            jitter: config.jitter_seed.map(|s| Mutex::new(s | 1)),
            inbound: Arc::new(inbound),
            peers: Mutex::new(HashMap::new()),
            stopping: stopping.clone(),
            stopped: std::sync::atomic::AtomicBool::new(false),
            incarnations: Mutex::new(HashMap::new()),
        });
        let service = RemotingServer::new(Service {
            inner: Arc::clone(&inner),
        })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
        let mut signal = stopping;
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = signal.wait_for(|s| *s).await;
            };
            // Serving ends only on shutdown; an accept error ends one connection, not this.
            let _ = match incoming {
                Listening::Tcp(tcp) => {
                    server
                        .serve_with_incoming_shutdown(service, tcp, stopped)
                        .await
                }
                Listening::Other(accepting) => {
                    let accepted = accepting.map(|c| c.map(Accepted));
                    server
                        .serve_with_incoming_shutdown(service, accepted, stopped)
                        .await
                }
            };
        });
        Ok(Endpoint {
            inner,
            local_addr,
            stop,
            server: Mutex::new(Some(server)),
        })
    }

    /// The socket address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Who this node is to its peers.
    pub fn identity(&self) -> &Identity {
        &self.inner.me
    }

    /// Queues `envelope` for the peer at `address`, connecting to it on first use. Never
    /// waits; what cannot be sent comes back through [`Inbound::undeliverable`] (a full
    /// queue as [`SendError::Overloaded`]).
    pub fn send(&self, address: &str, envelope: Envelope) {
        match self.try_reserve(address) {
            Ok(permit) => permit.send(address, envelope),
            Err(error) => self.inner.inbound.undeliverable(envelope, error),
        }
    }

    /// A handle to the peer at `address` (dialled on first use), for repeated sends.
    pub fn peer(&self, address: &str) -> Peer {
        let queue = with_queue(&self.inner, address, Queue::clone);
        Peer {
            inner: Arc::clone(&self.inner),
            address: address.into(),
            queue: Arc::new(std::sync::RwLock::new(queue)),
        }
    }

    /// Takes a place in the queue of the peer at `address` (dialling it on first use),
    /// or says why there is none: [`SendError::Overloaded`] when the queue is full,
    /// [`SendError::Closed`] when the endpoint is shutting down.
    pub fn try_reserve(&self, address: &str) -> Result<Permit, SendError> {
        let inner = &self.inner;
        if inner.is_stopping() {
            return Err(SendError::Closed);
        }
        with_queue(inner, address, |queue| match queue.reserve() {
            Ok(()) => Ok(Permit {
                inner: Arc::clone(inner),
                queue: Some(queue.clone()),
            }),
            Err(queued) => Err(SendError::Overloaded {
                peer: address.to_owned(),
                queued,
            }),
        })
    }

    /// Like [`try_reserve`](Self::try_reserve), but when the peer's queue is full (a slow
    /// peer), waits for room. The wait ends when the writer makes room, or when the peer
    /// is found down (its queue is then handed back and replaced, which makes room), so
    /// it is bounded by the down timeout for a peer that is gone.
    pub async fn reserve(&self, address: &str) -> Result<Permit, SendError> {
        let inner = &self.inner;
        loop {
            if inner.is_stopping() {
                return Err(SendError::Closed);
            }
            let queue = with_queue(inner, address, Queue::clone);
            let room = Arc::clone(&queue.count);
            let notified = room.room.notified();
            tokio::pin!(notified);
            // Registered before trying, so room made in between is not missed.
            notified.as_mut().enable();
            if queue.reserve().is_ok() {
                return Ok(Permit {
                    inner: Arc::clone(inner),
                    queue: Some(queue),
                });
            }
            notified.await;
        }
    }

    /// Like [`send`](Self::send), but waits for room in a full queue (see
    /// [`reserve`](Self::reserve)).
    pub async fn send_wait(&self, address: &str, envelope: Envelope) {
        match self.reserve(address).await {
            Ok(permit) => permit.send(address, envelope),
            Err(error) => self.inner.inbound.undeliverable(envelope, error),
        }
    }

    /// Queues `envelope` on the control lane of the peer at `address`: system messages
    /// (stop, watch, terminated and the like), which the peer's writer sends ahead of any
    /// queued user traffic, in their own frames. Not bounded, never waits; what cannot be
    /// sent comes back through [`Inbound::undeliverable`].
    pub fn send_system(&self, address: &str, envelope: Envelope) {
        if self.inner.is_stopping() {
            self.inner
                .inbound
                .undeliverable(envelope, SendError::Closed);
            return;
        }
        self.peer(address).send_system(envelope);
    }

    /// Stops accepting peers, closes every stream and waits (at most a few seconds) for
    /// the server to finish. Envelopes still queued are handed back as undeliverable.
    pub async fn shutdown(&self) {
        self.inner
            .stopped
            .store(true, std::sync::atomic::Ordering::Release);
        let _ = self.stop.send(true);
        // Shutting the queues ends the writers (once they have sent what was queued),
        // which close their streams; handles kept by senders cannot keep them open.
        let queues: Vec<_> = self.inner.peers().drain().collect();
        for (_, queue) in &queues {
            queue.shut();
        }
        drop(queues);
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut server) = server
            && tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

/// Runs `f` on the queue of `address`'s writer (under the peer map's lock), dialling the
/// peer first when there is none. The common case looks the address up once and without
/// allocating; only a new peer needs an owned key.
fn with_queue<R>(inner: &Arc<Inner>, address: &str, f: impl FnOnce(&Queue) -> R) -> R {
    let mut peers = inner.peers();
    let queue = match peers.get(address) {
        Some(queue) => queue,
        None => peers
            .entry(address.to_owned())
            .or_insert_with(|| dial(inner, address)),
    };
    f(queue)
}

/// Why an envelope is handed back after two writers in a row were found gone.
fn closed_twice(address: &str) -> SendError {
    SendError::Unreachable {
        peer: address.to_owned(),
        reason: "its stream closed twice in a row".to_owned(),
    }
}

/// Starts dialling `address`; returns the queue its writer will drain.
///
/// A failed dial is tried again after a growing, jittered wait, while envelopes keep
/// queueing; after `down_after` without success (or at once when the peer refuses this
/// node) the peer is reported down and the queue handed back. A stream that is lost later
/// is dialled again the same way, so a peer that comes back is reached without anyone
/// asking, and one that does not is reported down.
fn dial(inner: &Arc<Inner>, address: &str) -> Queue {
    let (queue, rx) = queue(inner.max_queued);
    let weak = queue.downgrade();
    tokio::spawn(dialler(Arc::clone(inner), address.to_owned(), rx, weak));
    queue
}

async fn dialler(inner: Arc<Inner>, address: String, rx: QueueRx, weak: WeakQueue) {
    let started = tokio::time::Instant::now();
    let mut failures = 0u32;
    let mut stopping = inner.stopping.clone();
    loop {
        let opened = tokio::time::timeout(inner.handshake_timeout, open(&inner, &address)).await;
        let (reason, fatal) = match opened {
            Ok(Ok((peer, out, frames))) => {
                let lost = connection(&inner, &address, peer, rx, &weak, out, frames).await;
                if lost && !inner.is_stopping() {
                    redial(&inner, &address);
                }
                return;
            }
            Ok(Err(failed)) => failed,
            Err(_) => ("no answer in time".to_owned(), false),
        };
        failures += 1;
        if fatal || inner.is_stopping() || started.elapsed() >= inner.down_after {
            if !inner.is_stopping() {
                crate::meter::node_down(&address);
                inner.inbound.event(EndpointEvent::Down {
                    address: address.clone(),
                    reason: reason.clone(),
                });
            }
            give_up(&inner, &address, rx, &weak, reason).await;
            return;
        }
        let wait = backoff(
            inner.reconnect_min,
            inner.reconnect_max,
            failures,
            inner.random(),
        )
        .min(inner.down_after.saturating_sub(started.elapsed()));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopping.wait_for(|s| *s) => {}
        }
        crate::meter::reconnect(&address);
    }
}

/// Dials `address` again unless something already does.
fn redial(inner: &Arc<Inner>, address: &str) {
    let mut peers = inner.peers();
    if !peers.contains_key(address) {
        crate::meter::reconnect(address);
        let queue = dial(inner, address);
        peers.insert(address.to_owned(), queue);
    }
}

/// `min · 2^(failures - 1)`, capped at `max`, ± 20 % (`random` picks where in that
/// range).
fn backoff(min: Duration, max: Duration, failures: u32, random: u16) -> Duration {
    let base = min
        .saturating_mul(
            1u32.checked_shl(failures.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(max);
    // A factor in [0.8, 1.2].
    let factor = 0.8 + 0.4 * f64::from(random) / f64::from(u16::MAX);
    base.mul_f64(factor)
}

/// Hands every envelope queued for `address` back as undeliverable.
async fn give_up(
    inner: &Inner,
    address: &str,
    mut queue: QueueRx,
    weak: &WeakQueue,
    reason: String,
) {
    inner.forget(address, weak);
    queue.close();
    let error = |inner: &Inner| {
        if inner.is_stopping() {
            SendError::Closed
        } else {
            SendError::Unreachable {
                peer: address.to_owned(),
                reason: reason.clone(),
            }
        }
    };
    // `recv` after `close` also takes sends admitted just before it, then ends.
    while let Some(envelope) = queue.sys.recv().await {
        inner.inbound.undeliverable(envelope, error(inner));
    }
    while let Some(envelope) = queue.recv().await {
        inner.inbound.undeliverable(envelope, error(inner));
    }
    // Senders waiting for room try again, and find the queue closed.
    queue.settle();
}

type Incoming = Pin<Box<dyn Stream<Item = Result<Frame, Status>> + Send>>;

/// Connects to `address` and runs the dialler's side of the handshake.
/// Why a dial failed, and whether trying again is pointless (the peer refused us, or
/// failed the secret check).
type DialError = (String, bool);

async fn open(
    inner: &Inner,
    address: &str,
) -> Result<(Identity, mpsc::Sender<Frame>, Incoming), DialError> {
    open_stream(inner, address).await.map_err(|e| match e {
        Opening::Retry(reason) => (reason, false),
        Opening::Fatal(e) => (e.to_string(), true),
    })
}

enum Opening {
    Retry(String),
    Fatal(HandshakeError),
}

impl From<String> for Opening {
    fn from(reason: String) -> Self {
        Opening::Retry(reason)
    }
}

async fn open_stream(
    inner: &Inner,
    address: &str,
) -> Result<(Identity, mpsc::Sender<Frame>, Incoming), Opening> {
    let limit = inner.limits.max_frame_bytes;
    let endpoint = channel(inner, address)?
        .tcp_nodelay(true)
        .connect_timeout(inner.handshake_timeout);
    let connected = match &inner.transport {
        None => endpoint.connect().await,
        Some(transport) => {
            let connector = Connector {
                transport: Arc::clone(transport),
                address: address.to_owned(),
            };
            endpoint.connect_with_connector(connector).await
        }
    };
    let channel = connected.map_err(|e| format!("cannot connect: {e}"))?;
    let mut client = RemotingClient::new(channel)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let (out, out_rx) = mpsc::channel(FRAME_QUEUE);
    let (hello, dialling) = handshake::hello(&inner.me, &inner.secret).map_err(Opening::Fatal)?;
    let _ = out.send(frame(Body::Hello(hello))).await;
    let response = client
        .open(ReceiverStream::new(out_rx))
        .await
        .map_err(|e| format!("the stream did not open: {}", e.message()))?;
    let mut frames: Incoming = Box::pin(response.into_inner());
    let challenge = match next(&mut frames).await? {
        Body::Challenge(c) => c,
        Body::Refused(r) => return Err(Opening::Fatal(HandshakeError::Refused(r.reason))),
        _ => return Err("the peer did not answer with a challenge".to_owned().into()),
    };
    let proof = dialling.answer(&challenge).map_err(Opening::Fatal)?;
    out.send(frame(Body::Proof(proof)))
        .await
        .map_err(|_| "the stream closed during the handshake".to_owned())?;
    let welcome = match next(&mut frames).await? {
        Body::Welcome(w) => w,
        Body::Refused(r) => return Err(Opening::Fatal(HandshakeError::Refused(r.reason))),
        _ => return Err("the peer did not answer with a welcome".to_owned().into()),
    };
    Ok((handshake::welcomed(&welcome), out, frames))
}

/// The transport endpoint for `address`: plaintext, or TLS checked against the CA.
fn channel(inner: &Inner, address: &str) -> Result<tonic::transport::Endpoint, Opening> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &inner.tls {
        let domain = tls.domain.clone().unwrap_or_else(|| {
            address
                .rsplit_once(':')
                .map_or(address, |(host, _)| host)
                .trim_matches(['[', ']'])
                .to_owned()
        });
        let config = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&tls.ca_pem))
            .domain_name(domain);
        return tonic::transport::Endpoint::from_shared(format!("https://{address}"))
            .map_err(|e| Opening::Retry(format!("not an address: {e}")))?
            .tls_config(config)
            .map_err(|e| Opening::Fatal(HandshakeError::Protocol(format!("TLS: {e}"))));
    }
    let _ = inner;
    tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| Opening::Retry(format!("not an address: {e}")))
}

async fn next(frames: &mut Incoming) -> Result<Body, String> {
    match frames.next().await {
        Some(Ok(Frame { body: Some(body) })) => Ok(body),
        Some(Ok(Frame { body: None })) => Err("an empty frame".into()),
        Some(Err(status)) => Err(format!("the stream failed: {}", status.message())),
        None => Err("the stream closed during the handshake".into()),
    }
}

fn frame(body: Body) -> Frame {
    Frame { body: Some(body) }
}

/// One open stream to `peer`: a reader and a writer until either side ends it, then the
/// `Disconnected` event and the queue handed back.
async fn connection(
    inner: &Arc<Inner>,
    address: &str,
    peer: Identity,
    queue: QueueRx,
    weak: &WeakQueue,
    out: mpsc::Sender<Frame>,
    frames: Incoming,
) -> bool {
    inner.met(&peer, true);
    let (dead, mut is_dead) = watch::channel(None::<String>);
    let reader = tokio::spawn(read(Arc::clone(inner), peer.clone(), frames, None, dead));
    let (reason, lost) = write(inner, address, queue, out, &peer, weak, &mut is_dead).await;
    reader.abort();
    inner
        .inbound
        .event(EndpointEvent::Disconnected { peer, reason });
    lost
}

/// Drains `queue` into batches for `peer` until the queue or the stream closes, sending a
/// heartbeat whenever it has been idle for the heartbeat interval. Returns why it ended,
/// and whether the stream was lost (rather than closed by this node).
async fn write(
    inner: &Inner,
    address: &str,
    mut queue: QueueRx,
    out: mpsc::Sender<Frame>,
    peer: &Identity,
    weak: &WeakQueue,
    is_dead: &mut watch::Receiver<Option<String>>,
) -> (String, bool) {
    let limits = Limits {
        max_frame_bytes: inner
            .limits
            .max_frame_bytes
            .min(peer.max_frame_bytes as usize),
        max_envelopes: inner.limits.max_envelopes,
    };
    let sent = crate::meter::Traffic::sent(address);
    let mut batch = BatchBuilder::new(limits);
    let mut carried: Option<Envelope> = None;
    let mut system: Option<Envelope> = None;
    let mut beats = 0u64;

    loop {
        // The control lane first: system envelopes never wait behind user traffic.
        if let Err(reason) =
            write_system(inner, &mut queue, &mut system, &out, limits, &sent, is_dead).await
        {
            give_up(inner, address, queue, weak, reason.clone()).await;
            return (reason, true);
        }
        let first = match carried.take() {
            Some(envelope) => envelope,
            None => {
                let idle = tokio::time::sleep(inner.heartbeat_interval);
                tokio::select! {
                    biased;
                    _ = is_dead.changed() => {
                        let reason = is_dead.borrow().clone().unwrap_or_default();
                        give_up(inner, address, queue, weak, reason.clone()).await;
                        return (reason, true);
                    }
                    next = queue.recv_any() => match next {
                        Next::System(envelope) => {
                            system = Some(envelope);
                            continue;
                        }
                        Next::User(envelope) => envelope,
                        Next::Closed => return ("this node closed the stream".into(), false),
                    },
                    () = idle => {
                        beats += 1;
                        let beat = proto::Control {
                            body: Some(proto::control::Body::Heartbeat(proto::Heartbeat {
                                sequence: beats,
                            })),
                        };
                        if let Err((_, reason)) =
                            send_frame(&out, frame(Body::Control(beat)), is_dead).await
                        {
                            give_up(inner, address, queue, weak, reason.clone()).await;
                            return (reason, true);
                        }
                        continue;
                    }
                }
            }
        };
        // Whatever is pending, up to the limits: no waiting for more.
        let mut next = Some(first);
        while let Some(envelope) = next.take() {
            match batch.push(envelope) {
                Push::Added => next = queue.try_recv(),
                Push::Full(envelope) => carried = Some(envelope),
                Push::TooLarge { envelope, size } => {
                    let error = SendError::TooLarge {
                        size,
                        limit: limits.max_frame_bytes,
                    };
                    inner.inbound.undeliverable(envelope, error);
                    next = queue.try_recv();
                }
            }
        }
        queue.settle();
        if batch.is_empty() {
            continue;
        }
        let (bytes, envelopes) = (batch.frame_len(), batch.len());
        let frame = batch.finish();
        let outcome = send_frame(&out, frame, is_dead).await;
        if outcome.is_ok() {
            sent.frame(bytes, envelopes);
        }
        if let Err((frame, reason)) = outcome {
            // The batch never left: hand its envelopes back, then the rest of the queue.
            let unsent = match frame.body {
                Some(Body::Batch(b)) => unpack(b).unwrap_or_default(),
                _ => Vec::new(),
            };
            for envelope in unsent.into_iter().chain(carried.take()) {
                let error = SendError::Unreachable {
                    peer: address.to_owned(),
                    reason: reason.clone(),
                };
                inner.inbound.undeliverable(envelope, error);
            }
            give_up(inner, address, queue, weak, reason.clone()).await;
            return (reason, true);
        }
    }
}

/// Sends every system envelope queued for the peer (and `first`, taken already) in
/// control frames, each under the frame limit.
async fn write_system(
    inner: &Inner,
    queue: &mut QueueRx,
    first: &mut Option<Envelope>,
    out: &mpsc::Sender<Frame>,
    limits: Limits,
    sent: &crate::meter::Traffic,
    is_dead: &mut watch::Receiver<Option<String>>,
) -> Result<(), String> {
    let mut next = first.take().or_else(|| queue.sys.try_recv().ok());
    if next.is_none() {
        return Ok(());
    }
    let mut batch = BatchBuilder::new(limits);
    while next.is_some() {
        while let Some(envelope) = next.take() {
            match batch.push(envelope) {
                Push::Added => next = queue.sys.try_recv().ok(),
                Push::Full(envelope) => {
                    next = Some(envelope);
                    break;
                }
                Push::TooLarge { envelope, size } => {
                    let error = SendError::TooLarge {
                        size,
                        limit: limits.max_frame_bytes,
                    };
                    inner.inbound.undeliverable(envelope, error);
                    next = queue.sys.try_recv().ok();
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let envelopes = batch.len();
        let system = match batch.finish().body {
            Some(Body::Batch(b)) => b,
            _ => continue,
        };
        let control = proto::Control {
            body: Some(proto::control::Body::System(system)),
        };
        let control = frame(Body::Control(control));
        // System frames are few: their size is computed whether metrics are on or not.
        let bytes = prost::Message::encoded_len(&control);
        let outcome = send_frame(out, control, is_dead).await;
        if outcome.is_ok() {
            sent.frame(bytes, envelopes);
        }
        if let Err((frame, reason)) = outcome {
            let unsent = match frame.body {
                Some(Body::Control(proto::Control {
                    body: Some(proto::control::Body::System(b)),
                })) => unpack(b).unwrap_or_default(),
                _ => Vec::new(),
            };
            for envelope in unsent.into_iter().chain(next) {
                let error = SendError::Unreachable {
                    peer: inner.me.address.clone(),
                    reason: reason.clone(),
                };
                inner.inbound.undeliverable(envelope, error);
            }
            return Err(reason);
        }
    }
    Ok(())
}

/// Writes `frame` once there is room, unless the stream closes or its reader finds the
/// peer gone first (a silent peer never makes room): then the frame comes back.
async fn send_frame(
    out: &mpsc::Sender<Frame>,
    frame: Frame,
    is_dead: &mut watch::Receiver<Option<String>>,
) -> Result<(), (Frame, String)> {
    tokio::select! {
        biased;
        _ = is_dead.changed() => {
            let reason = is_dead.borrow().clone().unwrap_or_default();
            Err((frame, reason))
        }
        permit = out.reserve() => match permit {
            Ok(permit) => {
                permit.send(frame);
                Ok(())
            }
            Err(_) => Err((frame, "the stream closed".into())),
        },
    }
}

/// Hands what arrives from `from` to the inbound until the stream ends, breaks the
/// protocol or stays silent for the peer timeout; then tells `dead` why. `keep` holds the
/// outgoing side of an accepted stream open while it reads.
async fn read(
    inner: Arc<Inner>,
    from: Identity,
    mut frames: Incoming,
    keep: Option<mpsc::Sender<Frame>>,
    dead: watch::Sender<Option<String>>,
) {
    let received = crate::meter::Traffic::received(&from.address);
    let reason = loop {
        let frame = match tokio::time::timeout(inner.peer_timeout, frames.next()).await {
            Err(_) => {
                break format!("nothing heard for {} ms", inner.peer_timeout.as_millis());
            }
            Ok(None) => break "the peer closed the stream".to_owned(),
            Ok(Some(Err(status))) => break format!("the stream failed: {}", status.message()),
            Ok(Some(Ok(frame))) => frame,
        };
        match frame.body {
            Some(Body::Batch(batch)) => match unpack_counted(batch, &received) {
                Ok(envelopes) => {
                    let mut envelopes = envelopes.into_iter();
                    while let Some(wait) = inner.inbound.deliver_frame(&from, &mut envelopes) {
                        wait.await;
                    }
                }
                // A peer that breaks the protocol loses its stream.
                Err(e) => break format!("the peer broke the protocol: {e}"),
            },
            Some(Body::Control(proto::Control {
                body: Some(proto::control::Body::System(batch)),
            })) => match unpack_counted(batch, &received) {
                Ok(envelopes) => {
                    for envelope in envelopes {
                        inner.inbound.deliver(&from, envelope);
                    }
                }
                Err(e) => break format!("the peer broke the protocol: {e}"),
            },
            Some(Body::Control(_)) => {}
            _ => break "the peer broke the protocol: a handshake frame after the handshake".into(),
        }
    };
    let _ = dead.send(Some(reason));
    drop(keep);
}

/// Unpacks a batch received from a peer, counting it in `received` (feature `metrics`).
fn unpack_counted(
    batch: proto::Batch,
    received: &crate::meter::Traffic,
) -> Result<Vec<Envelope>, crate::WireError> {
    #[cfg(feature = "metrics")]
    let bytes = prost::Message::encoded_len(&batch);
    let envelopes = unpack(batch)?;
    #[cfg(feature = "metrics")]
    received.frame(bytes, envelopes.len());
    #[cfg(not(feature = "metrics"))]
    let _ = received;
    Ok(envelopes)
}

struct Service {
    inner: Arc<Inner>,
}

#[tonic::async_trait]
impl Remoting for Service {
    type OpenStream = Pin<Box<dyn Stream<Item = Result<Frame, Status>> + Send>>;

    async fn open(
        &self,
        request: Request<Streaming<Frame>>,
    ) -> Result<Response<Self::OpenStream>, Status> {
        let frames: Incoming = Box::pin(request.into_inner());
        let (out, out_rx) = mpsc::channel(FRAME_QUEUE);
        tokio::spawn(accept(Arc::clone(&self.inner), frames, out));
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx).map(Ok))))
    }
}

/// The listener's side of the handshake, then reading (and writing, when this node has
/// no stream to the dialler yet).
async fn accept(inner: Arc<Inner>, mut frames: Incoming, out: mpsc::Sender<Frame>) {
    let handshake = async {
        let hello = match next(&mut frames).await.map_err(HandshakeError::Protocol)? {
            Body::Hello(h) => h,
            _ => {
                return Err(HandshakeError::Protocol(
                    "the first frame is not a hello".into(),
                ));
            }
        };
        let (challenge, listening) = handshake::challenge(&hello, &inner.me, &inner.secret)?;
        let _ = out.send(frame(Body::Challenge(challenge))).await;
        let proof = match next(&mut frames).await.map_err(HandshakeError::Protocol)? {
            Body::Proof(p) => p,
            _ => return Err(HandshakeError::Protocol("expected a proof".into())),
        };
        listening.verify(&proof)
    };
    let outcome = match tokio::time::timeout(inner.handshake_timeout, handshake).await {
        Ok(outcome) => outcome,
        Err(_) => Err(HandshakeError::Protocol(
            "the handshake took too long".into(),
        )),
    };
    let (welcome, peer) = match outcome {
        Ok(done) => done,
        Err(e) => {
            // Refused before any envelope is read; the stream then closes.
            let _ = out.send(frame(Body::Refused(e.refusal()))).await;
            return;
        }
    };
    if out.send(frame(Body::Welcome(welcome))).await.is_err() {
        return;
    }
    // Replies to the dialler go over this stream unless this node already has one to it.
    let writer = {
        let mut peers = inner.peers();
        if peers.contains_key(&peer.address) || inner.is_stopping() {
            None
        } else {
            let (queue, rx) = queue(inner.max_queued);
            let weak = queue.downgrade();
            peers.insert(peer.address.clone(), queue);
            Some((rx, weak))
        }
    };
    match writer {
        Some((rx, weak)) => {
            let address = peer.address.clone();
            let lost = connection(&inner, &address, peer, rx, &weak, out, frames).await;
            if lost && !inner.is_stopping() {
                redial(&inner, &address);
            }
        }
        None => {
            // This node already has a stream to the dialler: this one only reads (and
            // heartbeats keep it alive from the other side).
            inner.met(&peer, false);
            let (dead, mut why) = watch::channel(None);
            read(Arc::clone(&inner), peer.clone(), frames, Some(out), dead).await;
            // What the peer sent on this stream (replies among it) may be lost with it.
            let reason = why.borrow_and_update().clone().unwrap_or_default();
            if !inner.is_stopping() {
                inner
                    .inbound
                    .event(EndpointEvent::Disconnected { peer, reason });
            }
        }
    }
}
