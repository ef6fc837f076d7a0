//! `#[event]` methods of a persistent actor's impl block: each becomes a variant of the
//! `{Name}Event` enum, applied by calling the method.

use heck::ToUpperCamelCase;
use proc_macro2::Span;
use syn::{Attribute, FnArg, Ident, ImplItemFn, Pat, ReceiverKind, ReturnType, Type};

use crate::attr::{self, Keys, is_doc_attr};
use crate::ctxt::Ctxt;
use crate::persistent::{ENABLED, FEATURE_MSG};
use crate::symbol::{self, key};
use crate::types;

/// One `#[event]` method.
pub(crate) struct EventDef {
    pub(crate) method: Ident,
    pub(crate) variant: Ident,
    pub(crate) docs: Vec<Attribute>,
    pub(crate) args: Vec<(Ident, Type)>,
    /// The `#[serde(..)]` attributes of each argument, for its field in the event enum.
    pub(crate) serde_attrs: Vec<Vec<Attribute>>,
    /// `#[event(name = "..")]`: the stored name (manifest and JSON tag) instead of
    /// `Type::Variant`, so that renaming the method does not orphan stored events.
    pub(crate) name: Option<syn::LitStr>,
    /// `#[event(tags = ["..", ..])]`: the tags every such event is stored with.
    pub(crate) tags: Vec<syn::LitStr>,
    /// `false` when the method's signature was rejected: its variant is still generated,
    /// so that the code building such events compiles and the one error is the one that
    /// names the mistake, but nothing calls the method.
    pub(crate) applies: bool,
}

/// `true` for `#[event]` and `#[bactor::event]`.
pub(crate) fn is_event_attr(attr: &Attribute) -> bool {
    attr::is_attr(attr, symbol::EVENT)
}

/// `true` for a `#[serde(..)]` attribute (passed from an `#[event]` argument to its field).
pub(crate) fn is_serde_attr(attr: &Attribute) -> bool {
    attr.path().is_ident("serde")
}

/// What `#[event(..)]` says.
#[derive(Default)]
struct EventArgs {
    name: Option<syn::LitStr>,
    tags: Vec<syn::LitStr>,
}

/// `#[event]`, `#[event(name = "..")]`, `#[event(tags = [..])]`. Errors are recorded; what
/// parsed is kept.
fn parse_event_args(attr: &Attribute, cx: &mut Ctxt) -> EventArgs {
    let mut out = EventArgs::default();
    let list = match &attr.meta {
        syn::Meta::Path(_) => return out,
        syn::Meta::NameValue(nv) => {
            cx.error_spanned_by(
                nv,
                "expected `#[event]`, `#[event(name = \"...\")]` or `#[event(tags = [\"...\", ...])]`",
            );
            return out;
        }
        syn::Meta::List(list) => list,
    };
    let mut keys = Keys::new("`#[event]`", symbol::EVENT_KEYS);
    let parser = syn::meta::parser(|meta| {
        let Some(k) = keys.first(&meta, cx)? else {
            return Ok(());
        };
        match k {
            key::NAME => {
                let form = "the event's stored name, a string, like `name = \"Deposited\"`";
                if let Some(lit) = attr::value(&meta, k, form, cx, |v| v.parse::<syn::LitStr>())? {
                    if lit.value().trim().is_empty() {
                        cx.error_spanned_by(&lit, "`name` must not be empty");
                    } else {
                        out.name = Some(lit);
                    }
                }
            }
            key::TAGS => {
                let form = "a list of strings, like `tags = [\"account\", \"audit\"]`";
                let Some(array) = attr::value(&meta, k, form, cx, |v| v.parse::<syn::ExprArray>())?
                else {
                    return Ok(());
                };
                for elem in &array.elems {
                    let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(tag),
                        ..
                    }) = elem
                    else {
                        cx.error_spanned_by(elem, "a tag is a string literal, like `\"account\"`");
                        continue;
                    };
                    if tag.value().trim().is_empty() {
                        cx.error_spanned_by(tag, "a tag must not be empty");
                    } else if out.tags.iter().any(|t| t.value() == tag.value()) {
                        cx.error_spanned_by(tag, "duplicate tag; list each tag once");
                    } else {
                        out.tags.push(tag.clone());
                    }
                }
            }
            _ => attr::skip_value(meta.input)?,
        }
        Ok(())
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, list.tokens.clone()) {
        cx.push(e);
    }
    out
}

/// Reads an `#[event]` method. `None` only without the `persist` feature; a rejected
/// signature gives an event that does not apply (see `EventDef::applies`).
pub(crate) fn parse_event(f: &ImplItemFn, attr: &Attribute, cx: &mut Ctxt) -> Option<EventDef> {
    if !ENABLED {
        cx.error_spanned_by(attr, format!("`#[event]` {FEATURE_MSG}"));
        return None;
    }
    let sig = &f.sig;
    let EventArgs {
        name: event_name,
        tags,
    } = parse_event_args(attr, cx);
    let mut applies = true;
    let mut fail = |cx: &mut Ctxt, tokens: &dyn quote::ToTokens, msg: &str| {
        applies = false;
        cx.error_spanned_by(tokens, msg);
    };
    if let Some(a) = &sig.asyncness {
        fail(
            cx,
            a,
            "`#[event]` methods must be synchronous: they are replayed in order during recovery; remove `async` and do the waiting in the handler",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        fail(
            cx,
            &sig.generics,
            "`#[event]` methods cannot be generic: each becomes an event variant with concrete types",
        );
    }
    match sig.receiver() {
        Some(r) if matches!(r.kind, ReceiverKind::Reference(_, _, Some(_))) => {}
        Some(r) => fail(
            cx,
            r,
            "`#[event]` methods apply an event to the state and take `&mut self`",
        ),
        None => fail(
            cx,
            &sig.ident,
            "`#[event]` methods apply an event to the state and take `&mut self`",
        ),
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && !types::is_unit(ty)
    {
        fail(
            cx,
            ty,
            "`#[event]` methods return nothing: they only change the state; compute results in the handler",
        );
    }
    let mut args = Vec::new();
    let mut serde_attrs = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        if types::context_param(&pt.ty).is_some() {
            fail(
                cx,
                &pt.ty,
                "`#[event]` methods cannot take the context: they run again during replay, so they may only change the state",
            );
            continue;
        }
        if let Some(why) = types::not_owned(&pt.ty, "event fields", "are stored in the journal") {
            fail(cx, &pt.ty, &why);
            continue;
        }
        let field = match &*pt.pat {
            Pat::Ident(p) => {
                let s = p.ident.to_string();
                Ident::new(s.strip_prefix("r#").unwrap_or(&s), p.ident.span())
            }
            _ => Ident::new(&format!("arg{i}"), Span::call_site()),
        };
        args.push((field, (*pt.ty).clone()));
        serde_attrs.push(
            pt.attrs
                .iter()
                .filter(|a| is_serde_attr(a))
                .cloned()
                .collect(),
        );
    }
    if !sig.generics.params.is_empty() {
        // Its fields may name the method's type parameters, which the enum cannot.
        args.clear();
        serde_attrs.clear();
    }
    let name = sig.ident.to_string();
    let bare = name.strip_prefix("r#").unwrap_or(&name);
    Some(EventDef {
        method: sig.ident.clone(),
        variant: Ident::new(&bare.to_upper_camel_case(), sig.ident.span()),
        docs: f.attrs.iter().filter(|a| is_doc_attr(a)).cloned().collect(),
        args,
        serde_attrs,
        name: event_name,
        tags,
        applies,
    })
}
