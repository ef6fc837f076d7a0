//! `#[persistent(...)]` on an actor struct and `#[event]` methods in its impl block.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Attribute, FnArg, Ident, ImplItemFn, LitInt, Pat, ReceiverKind, ReturnType, Type};

use crate::ctxt::Ctxt;

/// The feature check: without bactor's `persist` feature the macros say so.
pub(crate) const ENABLED: bool = cfg!(feature = "persist");

pub(crate) const FEATURE_MSG: &str =
    "requires the `persist` feature of `bactor` (`bactor = { features = [\"persist\"] }`)";

pub(crate) struct PersistentArgs {
    snapshot_every: Option<(Span, u64)>,
    keep_snapshots: Option<u64>,
    /// `bad_snapshot = older | fail`: the `BadSnapshot` variant.
    bad_snapshot: Option<&'static str>,
    /// `upcast = path`: the upcaster function.
    upcast: Option<syn::Path>,
    /// `on_conflict = stop | restart`: the `OnConflict` variant.
    on_conflict: Option<&'static str>,
    /// `tag_with = path`: the function that tags each event.
    tag_with: Option<syn::Path>,
}

/// `true` for `#[persistent(..)]` and `#[bactor::persistent(..)]`.
pub(crate) fn is_persistent_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "persistent")
}

/// `true` for `#[event]`.
pub(crate) fn is_event_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "event")
}

fn positive(lit: &LitInt, key: &str, cx: &mut Ctxt) -> Option<u64> {
    match lit.base10_parse::<u64>() {
        Ok(0) => {
            cx.error_spanned_by(lit, format!("`{key}` must be at least 1"));
            None
        }
        Ok(n) => Some(n),
        Err(e) => {
            cx.push(e);
            None
        }
    }
}

impl PersistentArgs {
    pub(crate) fn parse(attr: &Attribute, cx: &mut Ctxt) -> PersistentArgs {
        let mut out = PersistentArgs {
            snapshot_every: None,
            keep_snapshots: None,
            bad_snapshot: None,
            upcast: None,
            on_conflict: None,
            tag_with: None,
        };
        if !ENABLED {
            cx.error_spanned_by(attr, format!("`#[persistent]` {FEATURE_MSG}"));
            return out;
        }
        let mut keep_key = None;
        let mut bad_key = None;
        match &attr.meta {
            syn::Meta::Path(_) => {}
            syn::Meta::NameValue(nv) => {
                cx.error_spanned_by(nv, "expected `#[persistent]` or `#[persistent(snapshot_every = N, keep_snapshots = K, bad_snapshot = older | fail, on_conflict = stop | restart, upcast = path, tag_with = path)]`");
            }
            syn::Meta::List(_) => {
                let mut keys = crate::attr::Keys::default();
                let result = attr.parse_nested_meta(|meta| {
                    let Some(key) = keys.first(&meta, cx)? else {
                        return Ok(());
                    };
                    match key.as_str() {
                        // #[persistent(snapshot_every = 100)]
                        "snapshot_every" => {
                            let lit: LitInt = meta.value()?.parse()?;
                            if let Some(n) = positive(&lit, "snapshot_every", cx) {
                                out.snapshot_every = Some((meta.path.get_ident().map_or(lit.span(), Ident::span), n));
                            }
                        }
                        // #[persistent(keep_snapshots = 2)]
                        "keep_snapshots" => {
                            let lit: LitInt = meta.value()?.parse()?;
                            out.keep_snapshots = positive(&lit, "keep_snapshots", cx);
                            keep_key = Some(meta.path.clone());
                        }
                        // #[persistent(bad_snapshot = fail)]
                        "bad_snapshot" => {
                            let value: Ident = meta.value()?.parse().map_err(|e| {
                                syn::Error::new(e.span(), "expected `bad_snapshot = older` or `bad_snapshot = fail`")
                            })?;
                            out.bad_snapshot = match value.to_string().as_str() {
                                "older" => Some("Older"),
                                "fail" => Some("Fail"),
                                _ => {
                                    cx.error_spanned_by(&value, "expected `bad_snapshot = older` or `bad_snapshot = fail`");
                                    None
                                }
                            };
                            bad_key = Some(meta.path.clone());
                        }
                        // #[persistent(on_conflict = restart)]
                        "on_conflict" => {
                            let value: Ident = meta.value()?.parse().map_err(|e| {
                                syn::Error::new(e.span(), "expected `on_conflict = stop` or `on_conflict = restart`")
                            })?;
                            out.on_conflict = match value.to_string().as_str() {
                                "stop" => Some("Stop"),
                                "restart" => Some("Restart"),
                                _ => {
                                    cx.error_spanned_by(&value, "expected `on_conflict = stop` or `on_conflict = restart`");
                                    None
                                }
                            };
                        }
                        // #[persistent(upcast = upgrade_events)]
                        "upcast" => {
                            let path: syn::Path = meta.value()?.parse().map_err(|e| {
                                syn::Error::new(e.span(), "expected `upcast = path::to::function`: a `fn(&str, serde_json::Value) -> serde_json::Value`")
                            })?;
                            out.upcast = Some(path);
                        }
                        // #[persistent(tag_with = currency_tags)]
                        "tag_with" => {
                            let path: syn::Path = meta.value()?.parse().map_err(|e| {
                                syn::Error::new(e.span(), "expected `tag_with = path::to::function`: a `fn(&{Name}Event) -> Vec<String>`")
                            })?;
                            out.tag_with = Some(path);
                        }
                        _ => {
                            let shown = quote::ToTokens::to_token_stream(&meta.path).to_string();
                            cx.error_spanned_by(
                                &meta.path,
                                format!("unknown `#[persistent]` argument `{shown}`; expected one of: `snapshot_every`, `keep_snapshots`, `bad_snapshot`, `on_conflict`, `upcast`, `tag_with`"),
                            );
                            if meta.input.peek(syn::Token![=]) {
                                meta.value()?.parse::<syn::Expr>()?;
                            }
                        }
                    }
                    Ok(())
                });
                if let Err(e) = result {
                    cx.push(e);
                }
            }
        }
        if let (Some(key), None) = (&keep_key, &out.snapshot_every) {
            cx.error_spanned_by(key, "`keep_snapshots` needs `snapshot_every`: without snapshots there is nothing to keep");
        }
        if let (Some(key), None) = (&bad_key, &out.snapshot_every) {
            cx.error_spanned_by(key, "`bad_snapshot` needs `snapshot_every`: without snapshots there is none to fall back from");
        }
        out
    }

    /// The `PersistOptions` impl for the actor type.
    pub(crate) fn expand(
        &self,
        krate: &syn::Path,
        ty: &TokenStream,
        generics: &syn::Generics,
    ) -> TokenStream {
        let p = quote!(#krate::__private);
        let (impl_generics, _, where_clause) = generics.split_for_impl();
        let opt = |v: Option<u64>| match v {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let every = opt(self.snapshot_every.map(|(_, n)| n));
        let keep = opt(self.keep_snapshots);
        let bad = Ident::new(self.bad_snapshot.unwrap_or("Older"), Span::call_site());
        let conflict = Ident::new(self.on_conflict.unwrap_or("Stop"), Span::call_site());
        let snapshots = self.snapshot_every.map(|_| {
            // These compile whether or not the state is serializable (see
            // `SnapshotCodec`): the one error for a state that is not comes from the
            // assertion below.
            quote! {
                fn snapshot_state(&self) -> ::core::option::Option<::core::result::Result<::std::string::String, #p::serde_json::Error>> {
                    #[allow(unused_imports)]
                    use #p::{NoSnapshot as _, SerdeSnapshot as _};
                    (&#p::SnapshotCodec::<Self>::new()).encode(self)
                }
                fn restore_state(payload: &str) -> ::core::option::Option<::core::result::Result<Self, #p::serde_json::Error>> {
                    #[allow(unused_imports)]
                    use #p::{NoSnapshot as _, SerdeSnapshot as _};
                    (&#p::SnapshotCodec::<Self>::new()).decode(payload)
                }
            }
        });
        // Spanned on the path: a function of another shape is reported there.
        let upcast = self.upcast.as_ref().map(|path| {
            let f = quote_spanned!(syn::spanned::Spanned::span(path)=> #p::upcaster(#path));
            quote! {
                fn upcaster() -> ::core::option::Option<#p::Upcaster> {
                    ::core::option::Option::Some(#f)
                }
            }
        });
        // Spanned on the path: a function of another shape is reported there.
        let tags = self.tag_with.as_ref().map(|path| {
            let call = quote_spanned!(syn::spanned::Spanned::span(path)=> #path(event));
            quote! {
                fn tags(event: &<Self as #p::PersistentActor>::Event) -> ::std::vec::Vec<::std::string::String>
                where
                    Self: #p::PersistentActor,
                {
                    #call
                }
            }
        });
        // Spanned on `snapshot_every`, so a state that cannot be serialized is reported
        // there, once.
        let assertion = self.snapshot_every.map(|(span, _)| {
            let check = quote_spanned!(span=> __bactor_snapshottable::<Self>);
            quote! {
                fn __bactor_snapshottable<T: #p::Snapshottable>() {}
                let _ = #check;
            }
        });
        quote! {
            #[automatically_derived]
            impl #impl_generics #p::PersistOptions for #ty #where_clause {
                fn config() -> #p::PersistConfig {
                    #assertion
                    #p::PersistConfig {
                        snapshot_every: #every,
                        keep_snapshots: #keep,
                        bad_snapshot: #p::BadSnapshot::#bad,
                        on_conflict: #p::OnConflict::#conflict,
                    }
                }
                #snapshots
                #upcast
                #tags
            }
        }
    }
}

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

const EVENT_USAGE: &str =
    "expected `#[event]`, `#[event(name = \"...\")]` or `#[event(tags = [\"...\", ...])]`";

/// `#[event]`, `#[event(name = "..")]`, `#[event(tags = [..])]`.
fn parse_event_args(attr: &Attribute, cx: &mut Ctxt) -> Option<EventArgs> {
    let syn::Meta::List(list) = &attr.meta else {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            cx.error_spanned_by(nv, EVENT_USAGE);
            return None;
        }
        return Some(EventArgs::default());
    };
    let mut out = EventArgs::default();
    let mut tags_seen = false;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            if out.name.is_some() {
                return Err(meta.error("duplicate `name`: give the event one stored name"));
            }
            let value = meta.value()?;
            let lit: syn::LitStr = value.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `name = \"...\"`: the event's stored name, a string",
                )
            })?;
            if lit.value().trim().is_empty() {
                return Err(syn::Error::new(lit.span(), "`name` must not be empty"));
            }
            out.name = Some(lit);
            Ok(())
        } else if meta.path.is_ident("tags") {
            if tags_seen {
                return Err(meta.error("duplicate `tags`: list every tag in one `tags = [..]`"));
            }
            tags_seen = true;
            let value = meta.value()?;
            let array: syn::ExprArray = value.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `tags = [\"...\", ...]`: a list of strings",
                )
            })?;
            for elem in &array.elems {
                let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(tag),
                    ..
                }) = elem
                else {
                    return Err(syn::Error::new(
                        syn::spanned::Spanned::span(elem),
                        "a tag is a string literal, like `\"account\"`",
                    ));
                };
                if tag.value().trim().is_empty() {
                    return Err(syn::Error::new(tag.span(), "a tag must not be empty"));
                }
                if out.tags.iter().any(|t| t.value() == tag.value()) {
                    return Err(syn::Error::new(tag.span(), "duplicate tag"));
                }
                out.tags.push(tag.clone());
            }
            Ok(())
        } else {
            Err(meta.error(format!("unknown key: {EVENT_USAGE}")))
        }
    });
    match syn::parse::Parser::parse2(parser, list.tokens.clone()) {
        Ok(()) => Some(out),
        Err(e) => {
            cx.push(e);
            None
        }
    }
}

pub(crate) fn parse_event(f: &ImplItemFn, attr: &Attribute, cx: &mut Ctxt) -> Option<EventDef> {
    use heck::ToUpperCamelCase;
    if !ENABLED {
        cx.error_spanned_by(attr, format!("`#[event]` {FEATURE_MSG}"));
        return None;
    }
    let sig = &f.sig;
    let name = sig.ident.to_string();
    let event_args = parse_event_args(attr, cx);
    let mut ok = event_args.is_some();
    let EventArgs {
        name: event_name,
        tags,
    } = event_args.unwrap_or_default();
    let mut fail = |cx: &mut Ctxt, tokens: &dyn quote::ToTokens, msg: &str| {
        ok = false;
        cx.error_spanned_by(tokens, msg);
    };
    if let Some(a) = &sig.asyncness {
        fail(
            cx,
            a,
            "`#[event]` methods must be synchronous: they are replayed in order during recovery",
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
        && !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty())
    {
        fail(
            cx,
            ty,
            "`#[event]` methods return nothing: they only change the state",
        );
    }
    let mut args = Vec::new();
    let mut serde_attrs = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        if super_context(&pt.ty) {
            fail(
                cx,
                &pt.ty,
                "`#[event]` methods cannot take the context: they run again during replay, so they may only change the state",
            );
            continue;
        }
        if let Type::Reference(r) = &*pt.ty
            && r.lifetime.as_ref().is_none_or(|l| l.ident != "static")
        {
            fail(
                cx,
                &pt.ty,
                "event fields are stored in the journal and must own their data; use an owned type",
            );
            continue;
        }
        if let Type::ImplTrait(_) = &*pt.ty {
            fail(
                cx,
                &pt.ty,
                "event fields cannot be `impl Trait`: the event enum needs a concrete type",
            );
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
    if !ok {
        return None;
    }
    let bare = name.strip_prefix("r#").unwrap_or(&name);
    Some(EventDef {
        method: sig.ident.clone(),
        variant: Ident::new(&bare.to_upper_camel_case(), sig.ident.span()),
        docs: f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
        args,
        serde_attrs,
        name: event_name,
        tags,
    })
}

fn super_context(ty: &Type) -> bool {
    crate::actor::context_param_pub(ty).is_some()
}
