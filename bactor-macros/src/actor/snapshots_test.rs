//! Expansion snapshots: what `#[actor]` generates for representative inputs.
//!
//! Review changes with `cargo insta review` (or accept with `INSTA_UPDATE=always`).

use proc_macro2::TokenStream;
use quote::quote;

fn pretty(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(e) => panic!("expansion is not valid Rust: {e}\n{tokens}"),
    }
}

fn expand(args: TokenStream, input: TokenStream) -> String {
    pretty(super::expand(args, input))
}

#[test]
fn struct_with_options() {
    insta::assert_snapshot!(expand(
        quote!(mailbox = 64, throughput = 10),
        quote! {
            #[derive(Default)]
            pub struct Counter { count: u64 }
        }
    ));
}

#[test]
fn struct_with_supervise() {
    insta::assert_snapshot!(expand(
        quote!(),
        quote! {
            #[supervise(
                strategy = all_for_one,
                max_restarts = 3,
                within = "1.5s",
                backoff = exponential(min = "100ms", max = "10s", jitter = 0.2, reset = "30s"),
                decide = crate::decide,
            )]
            pub struct Boss;
        }
    ));
}

#[test]
fn impl_with_restart_hooks_and_fail_on_error() {
    insta::assert_snapshot!(expand(
        quote!(),
        quote! {
            impl Worker {
                #[handler(fail_on_error)]
                fn risky(&mut self) -> Result<u64, MyError> { Ok(1) }

                fn pre_restart(&mut self, ctx: &mut Context<Self>, reason: &ActorError) {}

                async fn post_restart(&mut self, reason: &ActorError) -> Result<(), MyError> { Ok(()) }

                fn on_terminated(&mut self, pid: Pid, reason: &StopReason) {}
            }
        }
    ));
}

#[test]
fn impl_with_handlers_and_hooks() {
    insta::assert_snapshot!(expand(
        quote!(),
        quote! {
            impl Counter {
                /// Adds `by`.
                #[handler]
                pub fn add(&mut self, by: u64) -> u64 { self.count += by; self.count }

                #[handler]
                async fn fetch(&self, ctx: &mut Context<Self>, key: String) -> Result<u64, Error> { todo() }

                async fn pre_start(&mut self, ctx: &mut Context<Self>) -> Result<(), ActorError> { Ok(()) }

                fn post_stop(&mut self) {}
            }
        }
    ));
}

#[test]
fn generic_impl() {
    insta::assert_snapshot!(expand(
        quote!(),
        quote! {
            impl<K: Eq + Send + 'static, V: Send + 'static> Cache<K, V> {
                #[handler]
                fn put(&mut self, k: K, v: V) {}
            }
        }
    ));
}

#[test]
fn renamed_crate() {
    insta::assert_snapshot!(expand(
        quote!(crate = my::rt),
        quote! {
            impl Pinger {
                #[handler]
                fn ping(&self) {}
            }
        }
    ));
}

#[test]
fn invalid_impl_keeps_the_item_and_reports_all_errors() {
    insta::assert_snapshot!(expand(
        quote!(),
        quote! {
            impl Counter {
                #[handler]
                fn a(self) {}
                #[handler]
                fn b<T>(&self) {}
                fn helper(&self) {}
            }
        }
    ));
}

#[cfg(feature = "persist")]
#[test]
fn persistent_struct_and_events() {
    let ty = expand(
        quote!(),
        quote! {
            #[persistent(snapshot_every = 100, keep_snapshots = 2)]
            #[derive(Default, Serialize, Deserialize)]
            pub struct Account { balance: u64 }
        },
    );
    let imp = expand(
        quote!(),
        quote! {
            impl Account {
                #[handler]
                async fn deposit(&mut self, ctx: &mut Context<Self>, amount: u64) -> Result<u64, PersistError> {
                    self.persist(ctx, AccountEvent::Deposited { amount }).await?;
                    Ok(self.balance)
                }

                /// Money came in.
                #[event]
                fn deposited(&mut self, amount: u64) { self.balance += amount; }
            }
        },
    );
    insta::assert_snapshot!(format!("{ty}\n// ---- impl ----\n{imp}"));
}

#[test]
fn generic_persistent_struct_and_events() {
    let ty = expand(
        quote!(),
        quote! {
            #[persistent(snapshot_every = 10)]
            #[derive(Serialize, Deserialize)]
            pub struct Shelf<T: Send + 'static, U> { items: Vec<T>, unit: PhantomData<U> }
        },
    );
    let imp = expand(
        quote!(),
        quote! {
            impl<T, U> Shelf<T, U>
            where
                T: Serialize + DeserializeOwned + Send + 'static,
                U: Send + 'static,
            {
                #[event]
                fn placed(&mut self, item: T) { self.items.push(item); }
            }
        },
    );
    insta::assert_snapshot!(format!("{ty}\n// ---- impl ----\n{imp}"));
}

#[test]
fn remote_impl() {
    insta::assert_snapshot!(expand(
        quote!(remote = "counter-v1"),
        quote! {
            impl Counter {
                #[handler]
                pub fn add(&mut self, by: u64) -> u64 { self.count += by; self.count }

                #[handler(priority = high)]
                fn get(&self) -> Result<u64, String> { Ok(self.count) }
            }
        }
    ));
}

#[test]
fn struct_with_state() {
    insta::assert_snapshot!(expand(
        quote!(state = link, otherwise = stash, stash = 16),
        quote! {
            pub struct Connection { link: Link, sent: u64 }
        }
    ));
}

#[test]
fn impl_with_behaviours_and_receive_timeout() {
    insta::assert_snapshot!(expand(
        quote!(),
        quote! {
            impl Connection {
                #[handler(when = Connected(..) | Busy { .. }, otherwise = stash)]
                fn send(&mut self, text: String) -> usize { 1 }

                #[handler(when = Disconnected)]
                fn connect(&mut self) {}

                #[handler]
                fn status(&self) -> u8 { 0 }

                fn on_receive_timeout(&mut self, ctx: &mut Context<Self>) {}
            }
        }
    ));
}
