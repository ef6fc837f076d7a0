//! `#[actor]`: on a struct or enum it generates the typed ref; on the `impl` block it
//! generates the message enum, the ref methods and the `Actor` impl.
//!
//! Each form follows parse → typed model → validate → expand. On invalid input the user's
//! item is still emitted unchanged (minus our helper attributes), next to one
//! `compile_error!` per problem, so follow-on code does not drown in secondary errors.

mod expand;
mod hooks;
mod item_type;
mod model;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::Item;

use crate::attr::{ActorArgs, Target, is_handler_attr};
use crate::ctxt::Ctxt;

pub(crate) fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        // Not an item at all: let rustc report the syntax error on the original tokens.
        Err(e) => {
            let err = e.to_compile_error();
            return quote!(#input #err);
        }
    };
    let mut cx = Ctxt::default();
    let out = match item {
        mut item @ (Item::Struct(_) | Item::Enum(_)) => {
            let args = ActorArgs::parse(args, Target::Type, &mut cx);
            item_type::expand(&mut item, &args, &mut cx)
        }
        Item::Impl(mut imp) => {
            let args = ActorArgs::parse(args, Target::Impl, &mut cx);
            let generated = model::ActorImpl::from_syn(&imp, &args, &mut cx)
                .map(|model| expand::expand_impl(&model, cx.has_errors()));
            strip_helpers(&mut imp);
            quote!(#imp #generated)
        }
        Item::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                "`#[actor]` cannot be used on a union; use a struct or an enum",
            );
            u.into_token_stream()
        }
        other => {
            cx.error_spanned_by(
                first_token(&other),
                "`#[actor]` goes on a struct or enum definition and on its `impl` block",
            );
            other.into_token_stream()
        }
    };
    let errors = cx.into_compile_errors();
    let result = quote!(#out #errors);
    if std::env::var_os("BACTOR_MACROS_DEBUG").is_some() {
        eprintln!("{result}");
    }
    result
}

pub(crate) use model::context_param as context_param_pub;

/// Removes `#[handler]` and `#[event]` attributes, which only `#[actor]` understands.
fn strip_helpers(imp: &mut syn::ItemImpl) {
    for item in &mut imp.items {
        let attrs = match item {
            syn::ImplItem::Fn(f) => &mut f.attrs,
            syn::ImplItem::Const(c) => &mut c.attrs,
            syn::ImplItem::Type(t) => &mut t.attrs,
            syn::ImplItem::Macro(m) => &mut m.attrs,
            _ => continue,
        };
        attrs.retain(|a| !is_handler_attr(a) && !crate::persistent::is_event_attr(a));
    }
}

/// Something to hang an error on for items `#[actor]` does not support.
fn first_token(item: &Item) -> TokenStream {
    let tokens = item.to_token_stream();
    let mut iter = tokens.into_iter();
    // Skip outer attributes (`#` + `[...]`) and visibility to point at the item keyword.
    let mut out = TokenStream::new();
    while let Some(tt) = iter.next() {
        match &tt {
            proc_macro2::TokenTree::Punct(p) if p.as_char() == '#' => {
                iter.next();
            }
            proc_macro2::TokenTree::Ident(i) if i == "pub" => {
                if let Some(proc_macro2::TokenTree::Group(_)) = iter.clone().next() {
                    iter.next();
                }
            }
            _ => {
                out.extend(std::iter::once(tt));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "snapshots_test.rs"]
mod snapshots_test;
