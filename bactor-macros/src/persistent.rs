//! `#[persistent(...)]` on an actor struct: parsed into `PersistentArgs`, expanded into
//! the `PersistOptions` impl. The `#[event]` methods of the impl block are read with the
//! rest of the actor's model (`actor::event`).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Attribute, Ident};

use crate::attr::{self, Keys};
use crate::ctxt::Ctxt;
use crate::symbol::{self, key};

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
    attr::is_attr(attr, symbol::PERSISTENT)
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
                cx.error_spanned_by(nv, "expected `#[persistent]` or `#[persistent(key = value, ..)]` with keys `snapshot_every`, `keep_snapshots`, `bad_snapshot`, `on_conflict`, `upcast`, `tag_with`");
            }
            syn::Meta::List(_) => {
                let mut keys = Keys::new("`#[persistent]`", symbol::PERSISTENT_KEYS);
                let result = attr.parse_nested_meta(|meta| {
                    let Some(k) = keys.first(&meta, cx)? else {
                        return Ok(());
                    };
                    match k {
                        key::SNAPSHOT_EVERY => {
                            let form = "the number of events between snapshots, at least 1, like `snapshot_every = 100`";
                            let span = syn::spanned::Spanned::span(&meta.path);
                            out.snapshot_every =
                                attr::int::<u64>(&meta, k, form, 1, cx)?.map(|(_, n)| (span, n));
                        }
                        key::KEEP_SNAPSHOTS => {
                            keep_key = Some(meta.path.clone());
                            let form = "the number of snapshots kept, at least 1, like `keep_snapshots = 2`";
                            out.keep_snapshots = attr::int::<u64>(&meta, k, form, 1, cx)?.map(|(_, n)| n);
                        }
                        key::BAD_SNAPSHOT => {
                            bad_key = Some(meta.path.clone());
                            let options = [("older", "Older"), ("fail", "Fail")];
                            out.bad_snapshot = attr::choice(&meta, k, &options, cx)?;
                        }
                        key::ON_CONFLICT => {
                            let options = [("stop", "Stop"), ("restart", "Restart")];
                            out.on_conflict = attr::choice(&meta, k, &options, cx)?;
                        }
                        key::UPCAST => {
                            let form = "the path of a `fn(&str, serde_json::Value) -> serde_json::Value`, like `upcast = upgrade_events`";
                            out.upcast = attr::path(&meta, k, form, cx)?;
                        }
                        key::TAG_WITH => {
                            let form = "the path of a `fn(&{Name}Event) -> Vec<String>`, like `tag_with = event_tags`";
                            out.tag_with = attr::path(&meta, k, form, cx)?;
                        }
                        _ => attr::skip_value(meta.input)?,
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
        // A generic state is serializable where its type parameters are, which its
        // declaration need not say (serde's derives infer it): its options exist where it
        // can be snapshotted, instead of an assertion that would fail for every generic
        // state.
        let generic_snapshots = self.snapshot_every.is_some() && !generics.params.is_empty();
        let where_clause = match (where_clause, generic_snapshots) {
            (Some(w), true) => {
                let preds = w.predicates.iter();
                quote!(where #(#preds,)* Self: #p::Snapshottable)
            }
            (None, true) => quote!(where Self: #p::Snapshottable),
            (w, false) => quote!(#w),
        };
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
        let assertion = self
            .snapshot_every
            .filter(|_| !generic_snapshots)
            .map(|(span, _)| {
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
