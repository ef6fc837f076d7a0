//! Refs serialize as their pid (feature `serde`):
//! `cargo test -p bactor --features serde --test serde`.
#![cfg(feature = "serde")]

use bactor::prelude::*;

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
    let r = system.spawn(|| Named).await.unwrap();
    let as_ref = serde_json::to_value(&r).unwrap();
    let as_pid = serde_json::to_value(r.pid()).unwrap();
    assert_eq!(as_ref, as_pid);
    let pid: Pid = serde_json::from_value(as_ref).unwrap();
    assert_eq!(pid, r.pid());
    assert_eq!(system.resolve::<Named>(pid).unwrap(), r);
    system.shutdown().await;
}
