//! The handshake that opens a stream between two nodes, and its proof of the shared
//! cluster secret.
//!
//! ```text
//! dialler                                   listener
//!   Hello { address, incarnation, nonce_d } ->
//!                                          <- Challenge { nonce_l, mac_l }
//!   Proof { mac_d }                        ->
//!                                          <- Welcome { address, incarnation }  (or Refused)
//! ```
//!
//! Both sides prove they know the secret without sending it: `mac_l` is an HMAC-SHA256 of
//! both nonces and the dialler's identity under the secret, checked by the dialler before
//! it answers (so it never talks to an impostor); `mac_d` is the same over the nonces in
//! the other order with another label, checked by the listener before it reads anything
//! else. Fresh random nonces on both sides make a recorded proof useless for another
//! connection. Comparisons are constant-time.
//!
//! ```
//! use bactor_remote::handshake::{self, Identity, Secret};
//!
//! let secret = Secret::new(b"cluster secret".to_vec());
//! let a = Identity::new("10.0.0.1:4000", 17);
//! let b = Identity::new("10.0.0.2:4000", 99);
//! let (hello, dialling) = handshake::hello(&a, &secret).unwrap();
//! let (challenge, listening) = handshake::challenge(&hello, &b, &secret).unwrap();
//! let proof = dialling.answer(&challenge).unwrap();
//! let (welcome, dialler) = listening.verify(&proof).unwrap();
//! assert_eq!((dialler.address.as_str(), dialler.incarnation), ("10.0.0.1:4000", 17));
//! let listener = handshake::welcomed(&welcome);
//! assert_eq!(listener.incarnation, 99);
//!
//! // Without the secret, the listener refuses before reading any envelope.
//! let (hello, _) = handshake::hello(&a, &Secret::new(b"guess".to_vec())).unwrap();
//! let (_, listening) = handshake::challenge(&hello, &b, &secret).unwrap();
//! assert!(listening.verify(&bactor_remote::proto::Proof { mac: vec![0; 32] }).is_err());
//! ```

use std::fmt;
use std::sync::Arc;

use hmac::{KeyInit, Mac};

use crate::proto;

/// The protocol version this crate speaks.
pub const VERSION: u32 = 2;

/// Bytes in a handshake nonce.
pub const NONCE_BYTES: usize = 32;

/// The longest address accepted in a handshake.
pub const MAX_ADDRESS_BYTES: usize = 1024;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The shared cluster secret. Its `Debug` output does not show it.
#[derive(Clone)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// A secret from its bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(Arc::from(bytes.into()))
    }

    fn mac(&self, label: &[u8], first: &[u8], second: &[u8], who: &Identity) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(label);
        mac.update(first);
        mac.update(second);
        mac.update(&who.incarnation.to_be_bytes());
        mac.update(&(who.address.len() as u64).to_be_bytes());
        mac.update(who.address.as_bytes());
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

const LISTENER: &[u8] = b"bactor.remote.v1 listener";
const DIALLER: &[u8] = b"bactor.remote.v1 dialler";

/// Who a node is: the address it can be reached at and the incarnation of this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The advertised address.
    pub address: String,
    /// Changes every time the node starts.
    pub incarnation: u64,
    /// The largest frame this node accepts.
    pub max_frame_bytes: u32,
}

impl Identity {
    /// An identity accepting frames of [`Limits::DEFAULT`](crate::Limits::DEFAULT) size.
    pub fn new(address: impl Into<String>, incarnation: u64) -> Self {
        Identity {
            address: address.into(),
            incarnation,
            max_frame_bytes: crate::Limits::DEFAULT.max_frame_bytes as u32,
        }
    }
}

/// Why a handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The peer does not know the cluster secret (or is not who it says it is).
    Unauthenticated,
    /// The peer speaks another protocol version.
    Version(u32),
    /// The peer sent something that is not a valid handshake.
    Protocol(String),
    /// The peer refused the connection.
    Refused(String),
}

impl HandshakeError {
    /// The frame that tells the peer why it is refused.
    pub fn refusal(&self) -> proto::Refused {
        let code = match self {
            HandshakeError::Unauthenticated => proto::RefusedCode::Unauthenticated,
            HandshakeError::Version(_) => proto::RefusedCode::Version,
            HandshakeError::Protocol(_) | HandshakeError::Refused(_) => {
                proto::RefusedCode::Protocol
            }
        };
        proto::Refused {
            code: code as i32,
            reason: self.to_string(),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Unauthenticated => {
                f.write_str("the peer failed the cluster secret check")
            }
            HandshakeError::Version(v) => {
                write!(
                    f,
                    "the peer speaks protocol version {v}, this node {VERSION}"
                )
            }
            HandshakeError::Protocol(why) => write!(f, "invalid handshake: {why}"),
            HandshakeError::Refused(why) => write!(f, "refused by the peer: {why}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

fn nonce() -> Result<[u8; NONCE_BYTES], HandshakeError> {
    let mut n = [0; NONCE_BYTES];
    getrandom::fill(&mut n).map_err(|e| HandshakeError::Protocol(format!("no randomness: {e}")))?;
    Ok(n)
}

/// The dialler's state between `Hello` and `Proof`.
#[derive(Debug)]
pub struct Dialling {
    ours: [u8; NONCE_BYTES],
    me: Identity,
    secret: Secret,
}

/// Starts a handshake as the dialler: the `Hello` to send first.
pub fn hello(me: &Identity, secret: &Secret) -> Result<(proto::Hello, Dialling), HandshakeError> {
    let ours = nonce()?;
    let hello = proto::Hello {
        address: me.address.clone(),
        incarnation: me.incarnation,
        nonce: ours.to_vec(),
        max_frame_bytes: me.max_frame_bytes,
        version: VERSION,
    };
    Ok((
        hello,
        Dialling {
            ours,
            me: me.clone(),
            secret: secret.clone(),
        },
    ))
}

fn nonce_of(bytes: &[u8]) -> Result<[u8; NONCE_BYTES], HandshakeError> {
    bytes.try_into().map_err(|_| {
        HandshakeError::Protocol(format!(
            "a nonce of {} bytes, not {NONCE_BYTES}",
            bytes.len()
        ))
    })
}

impl Dialling {
    /// Checks the listener's proof and answers with ours.
    pub fn answer(self, challenge: &proto::Challenge) -> Result<proto::Proof, HandshakeError> {
        let theirs = nonce_of(&challenge.nonce)?;
        self.secret
            .mac(LISTENER, &self.ours, &theirs, &self.me)
            .verify_slice(&challenge.mac)
            .map_err(|_| HandshakeError::Unauthenticated)?;
        let mac = self
            .secret
            .mac(DIALLER, &theirs, &self.ours, &self.me)
            .finalize()
            .into_bytes()
            .to_vec();
        Ok(proto::Proof { mac })
    }
}

/// The listener's state between `Challenge` and `Welcome`.
#[derive(Debug)]
pub struct Listening {
    theirs: [u8; NONCE_BYTES],
    ours: [u8; NONCE_BYTES],
    dialler: Identity,
    me: Identity,
    secret: Secret,
}

/// Answers a dialler's `Hello` as the listener `me`: the `Challenge` to send back.
pub fn challenge(
    hello: &proto::Hello,
    me: &Identity,
    secret: &Secret,
) -> Result<(proto::Challenge, Listening), HandshakeError> {
    if hello.version != VERSION {
        return Err(HandshakeError::Version(hello.version));
    }
    if hello.address.len() > MAX_ADDRESS_BYTES {
        return Err(HandshakeError::Protocol(format!(
            "an address of {} bytes",
            hello.address.len()
        )));
    }
    let theirs = nonce_of(&hello.nonce)?;
    let dialler = Identity {
        address: hello.address.clone(),
        incarnation: hello.incarnation,
        max_frame_bytes: hello.max_frame_bytes,
    };
    let ours = nonce()?;
    let mac = secret
        .mac(LISTENER, &theirs, &ours, &dialler)
        .finalize()
        .into_bytes()
        .to_vec();
    Ok((
        proto::Challenge {
            nonce: ours.to_vec(),
            mac,
        },
        Listening {
            theirs,
            ours,
            dialler,
            me: me.clone(),
            secret: secret.clone(),
        },
    ))
}

impl Listening {
    /// Checks the dialler's proof: on success, the `Welcome` to send and who the dialler
    /// is.
    pub fn verify(
        self,
        proof: &proto::Proof,
    ) -> Result<(proto::Welcome, Identity), HandshakeError> {
        self.secret
            .mac(DIALLER, &self.ours, &self.theirs, &self.dialler)
            .verify_slice(&proof.mac)
            .map_err(|_| HandshakeError::Unauthenticated)?;
        let welcome = proto::Welcome {
            address: self.me.address.clone(),
            incarnation: self.me.incarnation,
            max_frame_bytes: self.me.max_frame_bytes,
        };
        Ok((welcome, self.dialler))
    }
}

/// Who the listener is, from its `Welcome`.
pub fn welcomed(welcome: &proto::Welcome) -> Identity {
    Identity {
        address: welcome.address.clone(),
        incarnation: welcome.incarnation,
        max_frame_bytes: welcome.max_frame_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Identity, Identity) {
        (Identity::new("a:1", 1), Identity::new("b:2", 2))
    }

    #[test]
    fn both_sides_with_the_secret_connect() {
        let s = Secret::new(*b"s3cret");
        let (a, b) = ids();
        let (hello, d) = hello(&a, &s).unwrap();
        assert_eq!(hello.version, VERSION);
        let (ch, l) = challenge(&hello, &b, &s).unwrap();
        let proof = d.answer(&ch).unwrap();
        let (welcome, who) = l.verify(&proof).unwrap();
        assert_eq!(who, a);
        assert_eq!(welcomed(&welcome), b);
    }

    #[test]
    fn a_listener_without_the_secret_is_not_answered() {
        let (a, b) = ids();
        let (hello, d) = hello(&a, &Secret::new(*b"right")).unwrap();
        let (ch, _) = challenge(&hello, &b, &Secret::new(*b"wrong")).unwrap();
        assert_eq!(d.answer(&ch), Err(HandshakeError::Unauthenticated));
    }

    #[test]
    fn a_dialler_without_the_secret_is_refused() {
        let (a, b) = ids();
        let (hello, d) = hello(&a, &Secret::new(*b"wrong")).unwrap();
        let (ch, l) = challenge(&hello, &b, &Secret::new(*b"right")).unwrap();
        // It cannot check the listener's proof, and whatever it answers is refused.
        assert_eq!(d.answer(&ch), Err(HandshakeError::Unauthenticated));
        let guess = proto::Proof {
            mac: ch.mac.clone(), // reflecting the listener's own proof
        };
        assert_eq!(
            l.verify(&guess).unwrap_err(),
            HandshakeError::Unauthenticated
        );
    }

    #[test]
    fn a_recorded_proof_does_not_open_another_connection() {
        let s = Secret::new(*b"s");
        let (a, b) = ids();
        let (hello1, d1) = hello(&a, &s).unwrap();
        let (ch1, l1) = challenge(&hello1, &b, &s).unwrap();
        let proof1 = d1.answer(&ch1).unwrap();
        assert!(l1.verify(&proof1).is_ok());
        // An eavesdropper replays the Hello and the Proof: the new challenge has a fresh
        // nonce, so the old proof fails.
        let (_, l2) = challenge(&hello1, &b, &s).unwrap();
        assert_eq!(
            l2.verify(&proof1).unwrap_err(),
            HandshakeError::Unauthenticated
        );
    }

    #[test]
    fn a_tampered_identity_fails_the_proof() {
        let s = Secret::new(*b"s");
        let (a, b) = ids();
        let (mut hello, d) = hello(&a, &s).unwrap();
        hello.incarnation += 1; // a man in the middle rewrites who is dialling
        let (ch, _) = challenge(&hello, &b, &s).unwrap();
        assert_eq!(d.answer(&ch), Err(HandshakeError::Unauthenticated));
    }

    #[test]
    fn malformed_hellos_are_refused_with_a_reason() {
        let s = Secret::new(*b"s");
        let (a, b) = ids();
        let (good, _) = hello(&a, &s).unwrap();
        let bad_version = proto::Hello {
            version: 7,
            ..good.clone()
        };
        let err = challenge(&bad_version, &b, &s).unwrap_err();
        assert_eq!(err, HandshakeError::Version(7));
        assert_eq!(err.refusal().code, proto::RefusedCode::Version as i32);
        let short_nonce = proto::Hello {
            nonce: vec![1; 5],
            ..good.clone()
        };
        assert!(matches!(
            challenge(&short_nonce, &b, &s),
            Err(HandshakeError::Protocol(_))
        ));
        let long_address = proto::Hello {
            address: "x".repeat(MAX_ADDRESS_BYTES + 1),
            ..good
        };
        assert!(matches!(
            challenge(&long_address, &b, &s),
            Err(HandshakeError::Protocol(_))
        ));
        assert_eq!(format!("{s:?}"), "Secret(..)");
    }
}
