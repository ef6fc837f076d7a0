//! Every handler shape `#[actor]` accepts, used end to end.

use std::collections::HashMap;
use std::hash::Hash;

use bactor::prelude::*;

mod common;
use common::no_hang;

#[derive(Debug, PartialEq)]
pub struct Overdrawn {
    pub missing: u64,
}

#[actor(mailbox = 8, throughput = 4)]
#[derive(Debug, Default)]
pub struct Shapes {
    log: Vec<String>,
    value: u64,
}

#[actor]
impl Shapes {
    /// Sync, `&mut self`, one argument.
    #[handler]
    pub fn set(&mut self, v: u64) {
        self.value = v;
    }

    /// Sync, `&self`.
    #[handler]
    pub fn value(&self) -> u64 {
        self.value
    }

    /// Async, `&mut self`, several arguments.
    #[handler]
    pub async fn push(&mut self, a: String, b: u8, c: Vec<u16>) -> usize {
        tokio::task::yield_now().await;
        self.log.push(format!("{a}{b}{c:?}"));
        self.log.len()
    }

    /// Async, `&self`, with the context in the middle.
    #[handler]
    pub async fn whoami(&self, prefix: String, ctx: &mut Context<Self>, suffix: String) -> String {
        format!("{prefix}{}{suffix}", ctx.pid())
    }

    /// Sync with the context first and no other argument.
    #[handler]
    pub fn stop_me(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }

    /// A `Result` reply: `Err` reaches the asker as `AskError::Handler`.
    #[handler]
    pub fn withdraw(&mut self, n: u64) -> Result<u64, Overdrawn> {
        if n > self.value {
            return Err(Overdrawn {
                missing: n - self.value,
            });
        }
        self.value -= n;
        Ok(self.value)
    }

    /// `reply = plain`: the `Result` is the reply itself.
    #[handler(reply = plain)]
    pub fn check(&self, n: u64) -> Result<(), String> {
        if n <= self.value {
            Ok(())
        } else {
            Err("too much".into())
        }
    }

    /// `reply = result` for an alias of `Result`.
    #[handler(reply = result)]
    pub fn parse(&self, s: String) -> std::io::Result<u64> {
        s.parse().map_err(std::io::Error::other)
    }

    /// `Self` in argument and reply types.
    #[handler]
    pub fn snapshot(&self, extra: Option<Box<Self>>) -> Self {
        Shapes {
            log: self.log.clone(),
            value: self.value + extra.map_or(0, |e| e.value),
        }
    }

    /// A non-ident pattern and a raw identifier.
    #[handler]
    pub fn r#type(&self, (x, y): (u64, u64)) -> u64 {
        x * y + self.value
    }

    /// A `&'static` reference travels fine.
    #[handler]
    pub fn greet(&self, who: &'static str) -> String {
        format!("hi {who}")
    }

    /// An ordinary method: not a handler, still callable by handlers.
    fn helper(&self) -> u64 {
        self.value * 2
    }

    #[handler]
    pub fn doubled(&self) -> u64 {
        self.helper()
    }
}

#[tokio::test]
async fn all_handler_shapes_work() {
    let system = ActorSystem::new();
    let s = no_hang(system.spawn(Shapes::default)).await.unwrap();
    no_hang(s.set(10)).await.unwrap();
    assert_eq!(no_hang(s.value()).await, Ok(10));
    assert_eq!(no_hang(s.push("a".into(), 1, vec![2, 3])).await, Ok(1));
    let me = no_hang(s.whoami("<".into(), ">".into())).await.unwrap();
    assert_eq!(me, format!("<{}>", s.pid()));
    assert_eq!(no_hang(s.withdraw(4)).await, Ok(6));
    assert_eq!(
        no_hang(s.withdraw(10)).await,
        Err(AskError::Handler(Overdrawn { missing: 4 }))
    );
    // `reply = plain`: both arms of the `Result` are the reply, never an `AskError`.
    assert_eq!(no_hang(s.check(100)).await, Ok(Err("too much".to_owned())));
    assert_eq!(no_hang(s.check(6)).await, Ok(Ok(())));
    let plain: Result<Result<(), String>, AskError> = no_hang(s.check(0)).await;
    assert_eq!(plain, Ok(Ok(())));
    assert_eq!(no_hang(s.parse("12".into())).await.unwrap(), 12);
    assert!(matches!(
        no_hang(s.parse("x".into())).await,
        Err(AskError::Handler(_))
    ));
    let snap = no_hang(s.snapshot(Some(Box::new(Shapes {
        log: vec![],
        value: 1,
    }))))
    .await
    .unwrap();
    assert_eq!(snap.value, 7);
    assert_eq!(no_hang(s.r#type((2, 3))).await, Ok(12));
    assert_eq!(no_hang(s.greet("bob")).await.unwrap(), "hi bob");
    assert_eq!(no_hang(s.doubled()).await, Ok(12));
    no_hang(s.stop_me().tell()).await.unwrap();
    no_hang(s.stopped()).await;
    no_hang(system.shutdown()).await;
}

#[test]
fn type_level_settings_reach_the_actor_impl() {
    assert_eq!(
        <Shapes as Actor>::mailbox(),
        Some(MailboxConfig::Bounded(8))
    );
    assert_eq!(<Shapes as Actor>::throughput(), Some(4));
    let name = <Shapes as Actor>::message_name(&ShapesMsg::Set {
        v: 1,
        __bactor_reply: None,
    });
    assert_eq!(name, "Shapes::set");
}

/// A generic actor.
#[actor]
#[derive(Debug)]
pub struct Cache<K, V>
where
    K: Eq + Hash,
{
    map: HashMap<K, V>,
}

#[actor]
impl<K, V> Cache<K, V>
where
    K: Eq + Hash + Send + 'static,
    V: Clone + Send + 'static,
{
    #[handler]
    pub fn put(&mut self, k: K, v: V) -> Option<V> {
        self.map.insert(k, v)
    }

    #[handler]
    pub fn get(&self, k: K) -> Option<V> {
        self.map.get(&k).cloned()
    }

    #[handler]
    pub fn size(&self) -> usize {
        self.map.len()
    }
}

#[tokio::test]
async fn generic_actors_work() {
    let system = ActorSystem::new();
    let c: CacheRef<String, u32> = no_hang(system.spawn(|| Cache {
        map: HashMap::new(),
    }))
    .await
    .unwrap();
    assert_eq!(no_hang(c.put("a".into(), 1)).await, Ok(None));
    assert_eq!(no_hang(c.put("a".into(), 2)).await, Ok(Some(1)));
    assert_eq!(no_hang(c.get("a".into())).await, Ok(Some(2)));
    assert_eq!(no_hang(c.size()).await, Ok(1));
    let other: CacheRef<u8, Vec<u8>> = no_hang(system.spawn(|| Cache {
        map: HashMap::new(),
    }))
    .await
    .unwrap();
    assert_eq!(no_hang(other.put(1, vec![1])).await, Ok(None));
    no_hang(system.shutdown()).await;
}

/// An actor with no handlers at all: lifecycle only.
#[actor]
struct Silent;

#[actor]
impl Silent {}

/// An enum actor (a state machine).
#[actor]
enum Light {
    Off,
    On(u32),
}

#[actor]
impl Light {
    #[handler]
    fn toggle(&mut self) -> bool {
        *self = match *self {
            Light::Off => Light::On(1),
            Light::On(n) => {
                assert!(n > 0);
                Light::Off
            }
        };
        matches!(self, Light::On(_))
    }
}

#[tokio::test]
async fn handlerless_and_enum_actors() {
    let system = ActorSystem::new();
    let s = no_hang(system.spawn(|| Silent)).await.unwrap();
    assert!(s.is_alive());
    let l = no_hang(system.spawn(|| Light::Off)).await.unwrap();
    assert_eq!(no_hang(l.toggle()).await, Ok(true));
    assert_eq!(no_hang(l.toggle()).await, Ok(false));
    no_hang(system.shutdown()).await;
}

#[tokio::test]
async fn refs_are_cheap_values() {
    use std::hash::BuildHasher;
    let system = ActorSystem::new();
    let a = no_hang(system.spawn(Shapes::default)).await.unwrap();
    let other = no_hang(system.spawn(Shapes::default)).await.unwrap();
    let b = a.clone();
    // Clones are equal and hash alike; refs of different actors are neither.
    assert_eq!(a, b);
    assert_ne!(a, other);
    assert_ne!(a.pid(), other.pid());
    let hasher = std::collections::hash_map::RandomState::new();
    assert_eq!(hasher.hash_one(&a), hasher.hash_one(&b));
    assert_ne!(hasher.hash_one(&a), hasher.hash_one(&other));
    // Hashing uses only the pid; clippy cannot see that through the shared channel state.
    #[allow(clippy::mutable_key_type)]
    let mut set = std::collections::HashSet::new();
    set.insert(a.clone());
    assert!(set.contains(&b));
    assert!(!set.contains(&other));
    set.insert(other.clone());
    set.insert(b.clone());
    assert_eq!(set.len(), 2);
    let raw: ActorRef<Shapes> = b.clone().into();
    assert_eq!(raw.pid(), a.pid());
    assert_eq!(raw.typed(), a);
    assert_ne!(raw.typed(), other);
    assert!(format!("{a:?}").starts_with("ShapesRef("));
    // A clone reaches the same actor: state set through one is seen through the other.
    no_hang(a.set(5)).await.unwrap();
    assert_eq!(no_hang(b.value()).await, Ok(5));
    assert_eq!(no_hang(other.value()).await, Ok(0));
    no_hang(system.shutdown()).await;
}
