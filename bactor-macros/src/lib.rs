#![forbid(unsafe_code)]
//! Procedural macros of [bactor](https://docs.rs/bactor): `#[actor]` and `#[handler]`.
//!
//! Use them through the `bactor` crate (`use bactor::prelude::*;`), never directly: the
//! generated code refers to `::bactor::__private`, and `bactor` pins this crate to its
//! own version. The reference documentation lives on `bactor::actor`.
//!
//! Each macro runs the same pipeline, as thiserror's derive does:
//!
//! - **parse**: attribute arguments in `attr` (with the key names of `symbol`, checked by
//!   one helper), methods in `actor::model`, `actor::event` and `actor::hooks`, with the
//!   type predicates of `types`;
//! - **model**: `actor::model::ActorImpl` holds what the impl block declares;
//! - **validate**: `actor::validate` checks the rules between methods;
//! - **expand**: `actor::expand` (impl block), `actor::item_type` (struct or enum),
//!   `persistent` and `supervise` (their attributes).
//!
//! Every mistake is recorded in a `ctxt::Ctxt` and reported once, spanned on the
//! offending tokens, while the rest is still generated.

mod actor;
mod attr;
mod ctxt;
mod handler;
mod paths;
mod persistent;
mod supervise;
mod symbol;
mod types;

use proc_macro::TokenStream;

/// Turns a struct (or enum) and its `impl` block into an actor. See `bactor::actor` for
/// the full documentation.
#[proc_macro_attribute]
pub fn actor(args: TokenStream, input: TokenStream) -> TokenStream {
    actor::expand(args.into(), input.into()).into()
}

/// Marks a method of an `#[actor]` impl block as a message handler. See `bactor::handler`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, input: TokenStream) -> TokenStream {
    handler::standalone(args.into(), input.into()).into()
}

/// Sets how an actor supervises its children. See `bactor::supervise`.
#[proc_macro_attribute]
pub fn supervise(args: TokenStream, input: TokenStream) -> TokenStream {
    supervise::reorder("supervise", args.into(), input.into()).into()
}

/// Makes an `#[actor]` struct event-sourced. See `bactor::persistent`.
#[proc_macro_attribute]
pub fn persistent(args: TokenStream, input: TokenStream) -> TokenStream {
    supervise::reorder("persistent", args.into(), input.into()).into()
}

/// Marks an event method of a persistent actor. See `bactor::event`.
#[proc_macro_attribute]
pub fn event(_args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[event]` must be used on a method inside an `#[actor]` impl block",
    )
    .to_compile_error();
    quote::quote!(#input #err).into()
}
