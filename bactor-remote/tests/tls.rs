//! TLS between endpoints (feature `tls`): certificates from a test authority made with
//! rcgen; the cluster secret is still checked inside the TLS stream.
#![cfg(feature = "tls")]

use std::time::Duration;

use bactor_remote::endpoint::{Endpoint, EndpointConfig, SendError, TlsConfig};
use bactor_remote::handshake::Secret;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::sync::mpsc;

mod common;
use common::{Seen, delivered, handed_back, tell};

/// A test certificate authority.
struct Authority {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn authority() -> Authority {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    Authority {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A node certificate for `localhost`, signed by `ca`; trusting `trust`.
fn tls(ca: &Authority, trust: &Authority) -> TlsConfig {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    TlsConfig {
        cert_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
        ca_pem: trust.pem.clone().into_bytes(),
        domain: Some("localhost".to_owned()),
    }
}

async fn node(tls: Option<TlsConfig>) -> (Endpoint, mpsc::UnboundedReceiver<Seen>) {
    let mut c = EndpointConfig::new("127.0.0.1:0".parse().unwrap(), Secret::new(*b"s"));
    c.tls = tls;
    c.down_after = Duration::from_millis(500);
    c.reconnect_min = Duration::from_millis(20);
    common::node(c).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_certificates_from_one_authority_talk_over_tls() {
    let ca = authority();
    let (a, mut a_seen) = node(Some(tls(&ca, &ca))).await;
    let (b, mut b_seen) = node(Some(tls(&ca, &ca))).await;
    for n in 0..1000 {
        a.send(&b.identity().address, tell(n));
    }
    for n in 0..1000u32 {
        assert_eq!(&delivered(&mut b_seen).await.payload[..], &n.to_be_bytes());
    }
    // And back over the same stream.
    b.send(&a.identity().address, tell(7));
    assert_eq!(
        &delivered(&mut a_seen).await.payload[..],
        &7u32.to_be_bytes()
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_authority_is_not_trusted() {
    let (ca, other) = (authority(), authority());
    // a trusts only `other`; b's certificate comes from `ca`.
    let (a, mut a_seen) = node(Some(tls(&ca, &other))).await;
    let (b, mut b_seen) = node(Some(tls(&ca, &ca))).await;
    a.send(&b.identity().address, tell(1));
    assert!(matches!(
        handed_back(&mut a_seen).await,
        SendError::Unreachable { .. }
    ));
    assert!(b_seen.try_recv().is_err(), "nothing reached b");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_and_tls_nodes_cannot_reach_each_other() {
    let ca = authority();
    let (plain, mut plain_seen) = node(None).await;
    let (secure, mut secure_seen) = node(Some(tls(&ca, &ca))).await;
    plain.send(&secure.identity().address, tell(1));
    assert!(matches!(
        handed_back(&mut plain_seen).await,
        SendError::Unreachable { .. }
    ));
    secure.send(&plain.identity().address, tell(2));
    assert!(matches!(
        handed_back(&mut secure_seen).await,
        SendError::Unreachable { .. }
    ));
    plain.shutdown().await;
    secure.shutdown().await;
}
