//! What a ref to an actor on another node holds, and the reply paths of asks across nodes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bactor_remote::endpoint::{Peer, SendError};
use bactor_remote::{BytesMut, Envelope as Wire, Kind, Name, Payload, WirePid};
use tokio::sync::Notify;

use serde::de::DeserializeOwned;

use super::codec::{self, Codec, CodecError};
use super::node::{NodeShared, system_method};
use crate::Pid;
use crate::actor_ref::ReplyTo;
use crate::error::{AskError, Rejection, RemoteFailure, StopReason, TellError};
use crate::mailbox::Letter;
use crate::system::{SysTx, SystemMsg};

/// One pid on another node, shared by every ref to it on this node.
pub(crate) struct Target {
    pub(crate) node: Arc<NodeShared>,
    pub(crate) address: Arc<str>,
    /// The queue to its node, kept between sends.
    peer: Peer,
    pub(crate) pid: Pid,
    dead: AtomicBool,
    /// How many times its node was found down.
    downs: AtomicU64,
    on_dead: Notify,
    state: Mutex<TargetState>,
}

#[derive(Default)]
struct TargetState {
    /// Local actors watching this pid, with their system lanes.
    watchers: HashMap<Pid, SysTx>,
    /// This node asked the pid's node for a `Terminated` notice.
    watching: bool,
    /// Why it is dead, once it is.
    reason: Option<StopReason>,
}

impl Target {
    pub(crate) fn new(node: Arc<NodeShared>, address: Arc<str>, pid: Pid) -> Self {
        Target {
            peer: node.endpoint().peer(&address),
            node,
            address,
            pid,
            dead: AtomicBool::new(false),
            downs: AtomicU64::new(0),
            on_dead: Notify::new(),
            state: Mutex::new(TargetState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TargetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn wire(&self) -> WirePid {
        wire_pid(self.pid)
    }

    /// `true` once the actor is known to be gone: a `Terminated` notice came, its node is
    /// down, or its node runs another incarnation now.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Marks the actor dead and tells its local watchers, once.
    pub(crate) fn died(&self, reason: StopReason) {
        let watchers = {
            let mut state = self.state();
            if state.reason.is_some() {
                return;
            }
            state.reason = Some(reason.clone());
            state.watching = false;
            std::mem::take(&mut state.watchers)
        };
        self.dead.store(true, Ordering::Release);
        self.on_dead.notify_waiters();
        for (_, sys) in watchers {
            // A watcher that is gone needs no notice.
            let _ = sys.send(SystemMsg::Terminated {
                pid: self.pid,
                reason: reason.clone(),
            });
        }
        self.node.unwatched(self.pid);
    }

    /// Its node is down: the watchers hear of it (and are forgotten, so a later watch
    /// asks again), and whoever waits for its end stops waiting. The ref itself keeps
    /// working should the node come back with the same run.
    pub(crate) fn node_down(&self, reason: StopReason) {
        let watchers = {
            let mut state = self.state();
            state.watching = false;
            std::mem::take(&mut state.watchers)
        };
        self.downs.fetch_add(1, Ordering::AcqRel);
        self.on_dead.notify_waiters();
        for (_, sys) in watchers {
            let _ = sys.send(SystemMsg::Terminated {
                pid: self.pid,
                reason: reason.clone(),
            });
        }
        self.node.unwatched(self.pid);
    }

    /// Waits until the actor is known to be gone (or its node down), asking its node to
    /// say when.
    pub(crate) async fn terminated(self: &Arc<Self>) {
        let downs = self.downs.load(Ordering::Acquire);
        self.watch_remotely();
        loop {
            let notified = self.on_dead.notified();
            if self.is_dead() || self.downs.load(Ordering::Acquire) != downs {
                return;
            }
            notified.await;
        }
    }

    /// Asks the pid's node for a `Terminated` notice, unless done already.
    fn watch_remotely(self: &Arc<Self>) {
        let first = {
            let mut state = self.state();
            !std::mem::replace(&mut state.watching, true) && state.reason.is_none()
        };
        if first {
            self.node.watched(self);
            let watcher = self.node.watcher_pid();
            self.peer.send_system(system_envelope(
                self.wire(),
                Some(watcher),
                "$watch",
                Vec::new(),
            ));
        }
    }

    /// A system message for this pid: the ones that cross nodes are sent on the control
    /// lane; the rest are handed back.
    pub(crate) fn system(self: &Arc<Self>, msg: SystemMsg) -> Result<(), SystemMsg> {
        match msg {
            SystemMsg::Stop => {
                self.peer
                    .send_system(system_envelope(self.wire(), None, "$stop", Vec::new()));
                Ok(())
            }
            SystemMsg::Watch { watcher, sys } => {
                let dead = {
                    let mut state = self.state();
                    match &state.reason {
                        Some(reason) => Some((reason.clone(), sys)),
                        None => {
                            state.watchers.insert(watcher, sys);
                            None
                        }
                    }
                };
                match dead {
                    Some((reason, sys)) => {
                        let _ = sys.send(SystemMsg::Terminated {
                            pid: self.pid,
                            reason,
                        });
                    }
                    None => self.watch_remotely(),
                }
                Ok(())
            }
            SystemMsg::Unwatch { watcher } => {
                let last = {
                    let mut state = self.state();
                    state.watchers.remove(&watcher).is_some()
                        && state.watchers.is_empty()
                        && std::mem::replace(&mut state.watching, false)
                };
                if last {
                    self.node.unwatched(self.pid);
                    let watcher = self.node.watcher_pid();
                    self.peer.send_system(system_envelope(
                        self.wire(),
                        Some(watcher),
                        "$unwatch",
                        Vec::new(),
                    ));
                }
                Ok(())
            }
            // This target is a watcher on another node (its node's watcher pid), and a
            // local actor it watches has stopped.
            SystemMsg::Terminated { pid, reason } => {
                self.peer.send_system(system_envelope(
                    self.wire(),
                    Some(pid),
                    "$terminated",
                    encode_reason(&reason),
                ));
                Ok(())
            }
            other => Err(other),
        }
    }
}

pub(crate) fn wire_pid(pid: Pid) -> WirePid {
    WirePid {
        node: pid.node(),
        id: pid.id(),
        incarnation: pid.incarnation(),
    }
}

pub(crate) fn local_pid(pid: WirePid) -> Pid {
    Pid::new(pid.node, pid.id, pid.incarnation)
}

pub(crate) fn system_envelope(
    target: WirePid,
    sender: Option<Pid>,
    method: &'static str,
    payload: Vec<u8>,
) -> Wire {
    let mut envelope = Wire::new(target, Kind::Tell, system_method(method), payload);
    envelope.sender = sender.map(wire_pid);
    envelope
}

/// A stop reason on the wire: a code and a text.
pub(crate) fn encode_reason(reason: &StopReason) -> Vec<u8> {
    let (code, text): (u8, String) = match reason {
        StopReason::Stopped => (0, String::new()),
        StopReason::Failed(e) => (1, e.to_string()),
        StopReason::NotFound => (2, String::new()),
        StopReason::NodeDown(node) => (3, node.clone()),
    };
    postcard::to_stdvec(&(code, text)).unwrap_or_default()
}

pub(crate) fn decode_reason(bytes: &[u8]) -> StopReason {
    match postcard::from_bytes::<(u8, String)>(bytes) {
        Ok((0, _)) => StopReason::Stopped,
        Ok((1, text)) => StopReason::Failed(Arc::new(crate::ActorError::msg(text))),
        Ok((2, _)) => StopReason::NotFound,
        Ok((3, node)) => StopReason::NodeDown(node),
        // Unreadable: the actor is gone all the same.
        _ => StopReason::Failed(Arc::new(crate::ActorError::msg(
            "stopped (the remote node sent an unreadable reason)",
        ))),
    }
}

/// An ask error on the wire: a code and a text.
pub(crate) fn encode_failure(error: &AskError) -> Vec<u8> {
    let (code, text): (u8, String) = match error {
        AskError::Dead => (0, String::new()),
        AskError::NoReply => (1, String::new()),
        AskError::Failed => (2, String::new()),
        AskError::Timeout => (3, String::new()),
        AskError::Remote(RemoteFailure::Codec(text)) => (4, text.clone()),
        AskError::Remote(other) => (5, other.to_string()),
        AskError::Rejected(Rejection::NotServed { message, state }) => {
            (6, format!("{message}\0{state}"))
        }
        AskError::Rejected(Rejection::Refused { message, reason }) => {
            (8, format!("{message}\0{reason}"))
        }
        AskError::Rejected(Rejection::StashFull { message, capacity }) => {
            (7, format!("{message}\0{capacity}"))
        }
        AskError::Handler(never) => match *never {},
    };
    postcard::to_stdvec(&(code, text)).unwrap_or_default()
}

/// `static_name` finds the `&'static str` of a message name (rejections carry one).
pub(crate) fn decode_failure(bytes: &[u8], static_name: impl Fn(&str) -> &'static str) -> AskError {
    let two = |text: &str| {
        let (a, b) = text.split_once('\0').unwrap_or((text, ""));
        (static_name(a), b.to_owned())
    };
    match postcard::from_bytes::<(u8, String)>(bytes) {
        Ok((6, text)) => {
            let (message, state) = two(&text);
            AskError::Rejected(Rejection::NotServed { message, state })
        }
        Ok((8, text)) => {
            let (message, reason) = two(&text);
            AskError::Rejected(Rejection::Refused { message, reason })
        }
        Ok((7, text)) => {
            let (message, capacity) = two(&text);
            AskError::Rejected(Rejection::StashFull {
                message,
                capacity: capacity.parse().unwrap_or(0),
            })
        }
        Ok((0, _)) => AskError::Dead,
        Ok((1, _)) => AskError::NoReply,
        Ok((2, _)) => AskError::Failed,
        Ok((3, _)) => AskError::Timeout,
        Ok((4, text)) => AskError::Remote(RemoteFailure::Codec(text)),
        Ok((_, text)) => AskError::Remote(RemoteFailure::Codec(format!("remote node: {text}"))),
        Err(e) => AskError::Remote(RemoteFailure::Codec(format!(
            "an unreadable failure reply: {e}"
        ))),
    }
}

/// The user lane of a ref to an actor on another node: messages are encoded here and
/// queued for that node.
pub(crate) struct Lane<M> {
    pub(crate) target: Arc<Target>,
    pub(crate) encode: fn(&M, Codec, &mut BytesMut) -> Result<usize, CodecError>,
    pub(crate) take_reply: fn(M) -> Option<Box<dyn PendingReply>>,
    pub(crate) name_of: fn(&M) -> &'static str,
    /// The wire names of the kind's methods.
    pub(crate) methods: &'static [&'static str],
}

impl<M> Lane<M> {
    pub(crate) fn is_closed(&self) -> bool {
        self.target.is_dead()
    }

    /// Encodes and queues now, or hands the message back: `Full` when the node's queue
    /// is full, `Dead` when the actor or its node is known to be gone. Never inlined: the
    /// local send path it sits next to (`UserTx::try_send`) stays small.
    #[inline(never)]
    pub(crate) fn try_send(&self, env: Letter<M>) -> Result<(), TellError<Letter<M>>> {
        if self.target.is_dead() {
            return Err(TellError::Dead(env));
        }
        // `make` runs only once a place in the queue is granted; until then the message
        // is still ours to hand back.
        let mut env = Some(env);
        match self.target.peer.try_send_with(|| self.wire(env.take()?)) {
            Ok(()) => Ok(()),
            Err(SendError::Overloaded { .. }) => match env {
                Some(env) => Err(TellError::Full(env)),
                None => Ok(()),
            },
            Err(_) => match env {
                Some(env) => Err(TellError::Dead(env)),
                None => Ok(()),
            },
        }
    }

    /// Waits for room in the node's queue, then encodes and queues; hands the message
    /// back when the actor or its node is known to be gone.
    #[inline(never)]
    pub(crate) async fn send(&self, env: Letter<M>) -> Result<(), Letter<M>> {
        if self.target.is_dead() {
            return Err(env);
        }
        let mut env = Some(env);
        let sent = self.target.peer.send_with(|| self.wire(env.take()?)).await;
        match (sent, env) {
            (Err(_), Some(env)) => Err(env),
            _ => Ok(()),
        }
    }

    /// The wire envelope of `env`; `None` (after the dead letter and the asker's error)
    /// when it cannot be encoded.
    fn wire(&self, env: Letter<M>) -> Option<Wire> {
        let target = &self.target;
        let node = &target.node;
        let (msg, headers) = match env {
            Letter::Msg(msg) => (msg, Vec::new()),
            Letter::Headed(headed) => {
                let (msg, headers) = *headed;
                (msg, headers.to_wire())
            }
            Letter::Stop => {
                let _span =
                    crate::trace::remote_send(target.pid, &target.address, || "$graceful_stop");
                return Some(system_envelope(
                    target.wire(),
                    None,
                    "$graceful_stop",
                    Vec::new(),
                ));
            }
        };
        let _span = crate::trace::remote_send(target.pid, &target.address, || (self.name_of)(&msg));
        let (encoded, payload) = codec::with_home(node.address(), || {
            codec::scratch(|buf| (self.encode)(&msg, node.codec(), buf))
        });
        let method = match encoded.map(|i| self.methods.get(i)) {
            Ok(Some(method)) => Name::from(*method),
            Ok(None) => {
                let error = CodecError::new("a method index out of range");
                self.lost(msg, AskError::Remote(RemoteFailure::Codec(error.0)));
                return None;
            }
            Err(e) => {
                self.lost(msg, AskError::Remote(RemoteFailure::Codec(e.0)));
                return None;
            }
        };
        let (kind, correlation) = match (self.take_reply)(msg) {
            Some(reply) => (Kind::Ask, node.pending_ask(target, reply)),
            None => (Kind::Tell, 0),
        };
        Some(Wire {
            target: target.wire(),
            sender: None,
            kind,
            method,
            payload,
            correlation,
            headers,
        })
    }

    /// A message that could not be encoded: a dead letter here, and its asker learns why.
    #[cold]
    fn lost(&self, msg: M, error: AskError) {
        let node = &self.target.node;
        node.dead_letter(self.target.pid, (self.name_of)(&msg));
        if let Some(reply) = (self.take_reply)(msg) {
            reply.fail(error);
        }
    }
}

/// The reply slot of an ask sent to another node, kept until its reply arrives. Made by
/// `#[actor(remote)]` code from a message's `ReplyTo`.
pub trait PendingReply: Send {
    /// Decodes the reply and hands it to the asker.
    fn complete(self: Box<Self>, payload: &[u8], codec: Codec);
    /// Ends the ask with an error.
    fn fail(self: Box<Self>, error: AskError);
    /// `true` once the asker no longer waits.
    fn is_closed(&self) -> bool;
}

/// The reply slot of an ask, waiting for a reply of type `R` from another node.
pub(crate) struct Pending<R>(pub(crate) ReplyTo<R>);

impl<R: DeserializeOwned + Send + 'static> PendingReply for Pending<R> {
    fn complete(self: Box<Self>, payload: &[u8], codec: Codec) {
        match codec::decode_args::<R>(codec, payload) {
            Ok(reply) => {
                // The asker may have given up.
                let _ = self.0.send(reply);
            }
            Err(e) => self
                .0
                .fail_with(AskError::Remote(RemoteFailure::Codec(format!(
                    "the reply: {e}"
                )))),
        }
    }

    fn fail(self: Box<Self>, error: AskError) {
        self.0.fail_with(error);
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The pending reply of a type that is not serde: never built by code that compiles.
pub(crate) struct Failing<R>(pub(crate) ReplyTo<R>);

impl<R: Send + 'static> PendingReply for Failing<R> {
    fn complete(self: Box<Self>, _: &[u8], _: Codec) {
        let error = AskError::Remote(RemoteFailure::Codec("not a serde type".into()));
        self.0.fail_with(error);
    }

    fn fail(self: Box<Self>, error: AskError) {
        self.0.fail_with(error);
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Where the reply of an ask from another node goes: the asking node and the ask's
/// correlation id. Handed to the code `#[actor(remote)]` generates, which turns it into
/// the message's `ReplyTo`.
pub struct ReplyChannel {
    pub(crate) node: Arc<NodeShared>,
    pub(crate) peer: Arc<str>,
    pub(crate) correlation: u64,
}

impl std::fmt::Debug for ReplyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyChannel")
            .field("peer", &self.peer)
            .field("correlation", &self.correlation)
            .finish()
    }
}

impl ReplyChannel {
    /// The `ReplyTo` of the message, for a reply of type `R` encoded by `encode`.
    pub(crate) fn into_reply_to<R>(
        self,
        encode: fn(&R, Codec, &mut BytesMut) -> Result<(), CodecError>,
    ) -> ReplyTo<R> {
        ReplyTo::remote(ReplySink {
            channel: self,
            encode,
        })
    }

    fn answer(&self, kind: Kind, payload: impl Into<Payload>) {
        let mut envelope = Wire::new(WirePid::default(), kind, system_method(""), payload);
        envelope.correlation = self.correlation;
        self.node.endpoint().send(&self.peer, envelope);
    }

    /// Ends the ask with `error` on the asking node.
    pub(crate) fn fail(&self, error: &AskError) {
        self.answer(Kind::Failure, encode_failure(error));
    }

    /// Sends an already encoded reply.
    pub(crate) fn reply_encoded(&self, payload: Payload) {
        self.answer(Kind::Reply, payload);
    }
}

/// A typed [`ReplyChannel`]: what a `ReplyTo` holds for an asker on another node.
pub(crate) struct ReplySink<R> {
    channel: ReplyChannel,
    encode: fn(&R, Codec, &mut BytesMut) -> Result<(), CodecError>,
}

impl<R> ReplySink<R> {
    /// Encodes and sends the reply; a reply that cannot be encoded fails the ask (with
    /// the reason) and is handed back. Never inlined, like `Lane::try_send`.
    #[inline(never)]
    pub(crate) fn reply(self, reply: R) -> Result<(), R> {
        let node = &self.channel.node;
        let (encoded, payload) = codec::with_home(node.address(), || {
            codec::scratch(|buf| (self.encode)(&reply, node.codec(), buf))
        });
        match encoded {
            Ok(()) => {
                self.channel.reply_encoded(payload);
                Ok(())
            }
            Err(e) => {
                let error = AskError::Remote(RemoteFailure::Codec(format!("the reply: {e}")));
                self.channel.fail(&error);
                Err(reply)
            }
        }
    }

    #[inline(never)]
    pub(crate) fn fail(self, error: AskError) {
        self.channel.fail(&error);
    }
}
