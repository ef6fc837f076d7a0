//! Refs serialize as their pid (feature `serde`):
//! `cargo test -p bactor --features serde --test serde`.
#![cfg(feature = "serde")]

use bactor::prelude::*;

mod common;
use common::no_hang;

#[actor]
struct Named;

#[actor]
impl Named {
    #[handler]
    fn ping(&self) {}
}

#[tokio::test]
async fn refs_serialize_as_their_pid() {
    let system = ActorSystem::new();
    let r = no_hang(system.spawn(|| Named)).await.unwrap();
    let as_ref = serde_json::to_value(&r).unwrap();
    let as_pid = serde_json::to_value(r.pid()).unwrap();
    assert_eq!(as_ref, as_pid);
    let pid: Pid = serde_json::from_value(as_ref).unwrap();
    assert_eq!(pid, r.pid());
    assert_eq!(system.resolve::<Named>(pid).unwrap(), r);
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn refs_deserialize_inside_a_system_scope() {
    let system = ActorSystem::new();
    let r = no_hang(system.spawn(|| Named)).await.unwrap();
    let json = serde_json::to_string(&vec![r.clone()]).unwrap();
    // Outside a scope: a clear error, not a panic.
    let err = serde_json::from_str::<Vec<NamedRef>>(&json).unwrap_err();
    assert!(err.to_string().contains("with_deserialization"), "{err}");
    let back: Vec<NamedRef> = system
        .with_deserialization(|| serde_json::from_str(&json))
        .unwrap();
    assert_eq!(back[0], r);
    no_hang(back[0].ping()).await.unwrap();
    // A pid of an actor that is gone becomes a ref whose sends fail at once.
    r.stop();
    no_hang(r.stopped()).await;
    let gone: NamedRef = system
        .with_deserialization(|| serde_json::from_str(&json[1..json.len() - 1]))
        .unwrap();
    assert_eq!(no_hang(gone.ping()).await, Err(AskError::Dead));
    assert!(!gone.is_alive());
    no_hang(system.shutdown()).await;
}
