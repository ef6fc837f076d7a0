//! `#[actor]` on a struct or enum: the `{Name}Ref` newtype and the `ActorOptions` impl.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericParam, Item};

use crate::attr::{ActorArgs, MailboxArg};
use crate::ctxt::Ctxt;
use crate::paths;
use crate::persistent::{PersistentArgs, is_persistent_attr};
use crate::supervise::{SuperviseArgs, is_supervise_attr};

/// Removes the `#[persistent(...)]` attributes from the item and parses the first.
fn take_persistent(attrs: &mut Vec<syn::Attribute>, cx: &mut Ctxt) -> Option<PersistentArgs> {
    let mut found = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        if !is_persistent_attr(&attr) {
            kept.push(attr);
        } else if found.is_some() {
            cx.error_spanned_by(
                &attr,
                "`#[persistent]` specified more than once; merge the two",
            );
        } else {
            found = Some(PersistentArgs::parse(&attr, cx));
        }
    }
    *attrs = kept;
    found
}

/// Removes the `#[supervise(...)]` attributes from the item and parses the first.
fn take_supervise(attrs: &mut Vec<syn::Attribute>, cx: &mut Ctxt) -> Option<SuperviseArgs> {
    let mut found = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        if !is_supervise_attr(&attr) {
            kept.push(attr);
            continue;
        }
        if found.is_some() {
            cx.error_spanned_by(
                &attr,
                "`#[supervise]` specified more than once; merge the two",
            );
            continue;
        }
        let args = match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::NameValue(nv) => {
                cx.error_spanned_by(nv, "expected `#[supervise(key = value, ...)]`");
                continue;
            }
        };
        found = Some(SuperviseArgs::parse(args, cx));
    }
    *attrs = kept;
    found
}

pub(crate) fn expand(item: &mut Item, args: &ActorArgs, cx: &mut Ctxt) -> TokenStream {
    let attrs = match item {
        Item::Struct(s) => &mut s.attrs,
        Item::Enum(e) => &mut e.attrs,
        _ => return item.to_token_stream(),
    };
    let supervise = take_supervise(attrs, cx);
    let persistent = take_persistent(attrs, cx);
    let generics = match &*item {
        Item::Struct(s) => &s.generics,
        Item::Enum(e) => &e.generics,
        _ => return item.to_token_stream(),
    };
    let krate = paths::runtime(args.krate.as_ref());
    let mut generated = TokenStream::new();
    let lifetimes: Vec<_> = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Lifetime(l) => Some(l),
            _ => None,
        })
        .collect();
    for l in &lifetimes {
        cx.error_spanned_by(
            l,
            "actors must be `'static`: lifetime parameters are not supported; own the data instead (`String`, `Arc<..>`)",
        );
    }
    let state = state_field(item, args, cx);
    if lifetimes.is_empty() {
        let strategy = supervise.map(|s| s.expand(&krate));
        let (vis, ident, generics) = match &*item {
            Item::Struct(s) => (&s.vis, &s.ident, &s.generics),
            Item::Enum(e) => (&e.vis, &e.ident, &e.generics),
            _ => return item.to_token_stream(),
        };
        generated = expand_ref(
            vis,
            ident,
            generics,
            &krate,
            args,
            strategy,
            persistent.is_some(),
        );
        generated.extend(expand_state(ident, generics, &krate, args, state));
        if let Some(p) = persistent {
            let (_, ty_generics, _) = generics.split_for_impl();
            generated.extend(p.expand(&krate, &quote!(#ident #ty_generics), generics));
        }
    }
    quote! {
        #item
        #generated
    }
}

/// The field named by `#[actor(state = field)]` and its type, checked.
fn state_field(item: &Item, args: &ActorArgs, cx: &mut Ctxt) -> Option<(syn::Ident, syn::Type)> {
    if args.state.is_none()
        && let Some((_, span)) = args.otherwise
    {
        cx.error_spanned_by(
            &quote::quote_spanned!(span=> otherwise),
            "`otherwise` needs `state = field` (the field `#[handler(when = ..)]` looks at)",
        );
    }
    let field = args.state.as_ref()?;
    let fields = match item {
        Item::Struct(s) => match &s.fields {
            syn::Fields::Named(named) => &named.named,
            _ => {
                cx.error_spanned_by(
                    field,
                    "`state` needs a struct with named fields: it names the field that holds the state",
                );
                return None;
            }
        },
        _ => {
            cx.error_spanned_by(
                field,
                "`state` needs a struct with named fields: an enum actor is its own state; match on `self` in the handlers instead",
            );
            return None;
        }
    };
    match fields.iter().find(|f| f.ident.as_ref() == Some(field)) {
        Some(f) => Some((field.clone(), f.ty.clone())),
        None => {
            let names: Vec<String> = fields
                .iter()
                .filter_map(|f| f.ident.as_ref().map(|i| format!("`{i}`")))
                .collect();
            cx.error_spanned_by(
                field,
                format!(
                    "no field `{field}` in this struct; `state` names the field that holds the state (fields: {})",
                    names.join(", ")
                ),
            );
            None
        }
    }
}

/// `HasState`: the declared state field, or a marker that no `when` can match.
fn expand_state(
    ident: &syn::Ident,
    generics: &syn::Generics,
    krate: &syn::Path,
    args: &ActorArgs,
    state: Option<(syn::Ident, syn::Type)>,
) -> TokenStream {
    let p = quote!(#krate::__private);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let otherwise = args
        .otherwise
        .map_or(crate::attr::Otherwise::Reject, |(o, _)| o)
        .expand(krate);
    let (ty, body) = match state {
        Some((field, ty)) => (quote!(#ty), quote!(&self.#field)),
        None => (
            quote!(#p::StateNotDeclared),
            quote!(&#p::StateNotDeclared::NONE),
        ),
    };
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::HasState for #ident #ty_generics #where_clause {
            type State = #ty;
            const OTHERWISE: #p::Otherwise = #otherwise;
            fn state(&self) -> &Self::State {
                #body
            }
        }
    }
}

fn expand_ref(
    vis: &syn::Visibility,
    ident: &syn::Ident,
    generics: &syn::Generics,
    krate: &syn::Path,
    args: &ActorArgs,
    strategy: Option<TokenStream>,
    persistent: bool,
) -> TokenStream {
    let ref_ident = format_ident!("{}Ref", ident);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let actor_ty = quote!(#ident #ty_generics);
    let mut where_preds: Vec<TokenStream> = where_clause
        .map(|w| w.predicates.iter().map(ToTokens::to_token_stream).collect())
        .unwrap_or_default();
    where_preds.push(quote!(#actor_ty: #krate::__private::Actor));
    let where_all = quote!(where #(#where_preds,)*);
    let params = &generics.params;
    let doc = format!(
        "A typed reference to a [`{ident}`] actor, with one method per `#[handler]`.\n\n\
         Generated by `#[actor]`. Cheap to clone; derefs to \
         `ActorRef<{ident}>` for `pid()`, `stop()`, `is_alive()` and the \
         untyped sends."
    );
    let mailbox = args.mailbox.as_ref().map(|m| {
        let config = |value: TokenStream| {
            quote! {
                fn mailbox() -> ::core::option::Option<#krate::__private::MailboxConfig> {
                    ::core::option::Option::Some(#value)
                }
            }
        };
        // Spanned on the user's type or expression: a value that is not a mailbox for
        // this actor's messages is reported there.
        let custom = |make: TokenStream| {
            quote! {
                fn custom_mailbox() -> ::core::option::Option<
                    ::std::boxed::Box<dyn #krate::__private::Mailbox<<Self as #krate::__private::Actor>::Msg>>,
                >
                where
                    Self: #krate::__private::Actor,
                {
                    ::core::option::Option::Some(#make)
                }
            }
        };
        match m {
            MailboxArg::Bounded(n) => config(quote!(#krate::__private::MailboxConfig::Bounded(#n))),
            MailboxArg::Unbounded => config(quote!(#krate::__private::MailboxConfig::Unbounded)),
            MailboxArg::Type(ty) => custom(quote_spanned! {ty.span()=>
                #krate::__private::boxed_mailbox::<<Self as #krate::__private::Actor>::Msg, #ty>(
                    <#ty as ::core::default::Default>::default(),
                )
            }),
            MailboxArg::Expr(expr) => custom(quote_spanned! {expr.span()=>
                #krate::__private::boxed_mailbox::<<Self as #krate::__private::Actor>::Msg, _>(#expr)
            }),
        }
    });
    let throughput = args.throughput.as_ref().map(|n| {
        quote! {
            fn throughput() -> ::core::option::Option<usize> {
                ::core::option::Option::Some(#n)
            }
        }
    });
    let strategy = strategy.map(|s| {
        quote! {
            fn supervisor_strategy() -> ::core::option::Option<#krate::__private::SupervisorStrategy> {
                ::core::option::Option::Some(#s)
            }
        }
    });
    let stash = args.stash.as_ref().map(|n| {
        quote! {
            fn stash_capacity() -> ::core::option::Option<usize> {
                ::core::option::Option::Some(#n)
            }
        }
    });
    // Read by the impl block's `#[actor]` (see `NotPersistent`).
    let persistent_flag = (persistent && generics.params.is_empty()).then(|| {
        quote! {
            impl #ident {
                #[doc(hidden)]
                pub const __BACTOR_PERSISTENT: bool = true;
            }
        }
    });
    let name = ref_ident.to_string();
    quote! {
        #[doc = #doc]
        #vis struct #ref_ident <#params> (#krate::__private::ActorRef<#actor_ty>) #where_all;

        #[automatically_derived]
        impl #impl_generics ::core::clone::Clone for #ref_ident #ty_generics #where_all {
            fn clone(&self) -> Self {
                Self(::core::clone::Clone::clone(&self.0))
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::fmt::Debug for #ref_ident #ty_generics #where_all {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_tuple(#name).field(&self.0.pid()).finish()
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::cmp::PartialEq for #ref_ident #ty_generics #where_all {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::cmp::Eq for #ref_ident #ty_generics #where_all {}

        #[automatically_derived]
        impl #impl_generics ::core::hash::Hash for #ref_ident #ty_generics #where_all {
            fn hash<__H: ::core::hash::Hasher>(&self, state: &mut __H) {
                ::core::hash::Hash::hash(&self.0, state);
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::convert::AsRef<#krate::__private::ActorRef<#actor_ty>>
            for #ref_ident #ty_generics #where_all
        {
            fn as_ref(&self) -> &#krate::__private::ActorRef<#actor_ty> {
                &self.0
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::ops::Deref for #ref_ident #ty_generics #where_all {
            type Target = #krate::__private::ActorRef<#actor_ty>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::convert::From<#krate::__private::ActorRef<#actor_ty>>
            for #ref_ident #ty_generics #where_all
        {
            fn from(r: #krate::__private::ActorRef<#actor_ty>) -> Self {
                Self(r)
            }
        }

        #[automatically_derived]
        impl #impl_generics ::core::convert::From<#ref_ident #ty_generics>
            for #krate::__private::ActorRef<#actor_ty> #where_all
        {
            fn from(r: #ref_ident #ty_generics) -> Self {
                r.0
            }
        }

        #krate::__private::ref_serde!([#params] #ref_ident #ty_generics, [#(#where_preds,)*]);

        #[automatically_derived]
        impl #impl_generics #krate::__private::ActorOptions for #actor_ty #where_clause {
            #mailbox
            #throughput
            #strategy
            #stash
        }

        #persistent_flag
    }
}
