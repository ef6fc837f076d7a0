//! Code generation for an `#[actor]` impl block.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::GenericParam;
use syn::spanned::Spanned;

use super::hooks::expand_hook;
use super::model::{ActorImpl, Handler, Param, StandIn};
use crate::attr::VariantShape;

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The `Actor` items of an actor whose handlers serve some states only (`when`).
fn expand_behavior(m: &ActorImpl<'_>, handlers: &[Handler]) -> TokenStream {
    if handlers.iter().all(|h| h.when.is_none()) {
        return TokenStream::new();
    }
    let krate = &m.krate;
    let p = quote!(#krate::__private);
    let msg = &m.msg_ident;
    let arms = handlers.iter().filter_map(|h| {
        // A `when` whose every variant was rejected serves every state (its error says so).
        let when = h.when.as_ref().filter(|w| !w.variants.is_empty())?;
        let variant = &h.variant;
        let patterns = when.variants.iter().map(|v| {
            let ident = &v.ident;
            // Spanned on the user's variant name, all of it: an unknown one, or one of
            // another shape, is reported there.
            let path = respan(quote!(#p::StateOf::<Self>::#ident), ident.span());
            match v.shape {
                VariantShape::Unit => path,
                VariantShape::Tuple => quote_spanned!(ident.span()=> #path(..)),
                VariantShape::Struct => quote_spanned!(ident.span()=> #path { .. }),
            }
        });
        let otherwise = match h.otherwise {
            Some(o) => o.expand(krate),
            None => quote!(<Self as #p::HasState>::OTHERWISE),
        };
        let key = when.key;
        let state = quote_spanned!(key=> <Self as #p::HasState>::state(self));
        Some(quote! {
            #msg::#variant { .. } => {
                if ::core::matches!(*#state, #(#patterns)|*) {
                    #p::Admit::Serve
                } else {
                    #p::Admit::Not(#otherwise)
                }
            }
        })
    });
    quote! {
        const HAS_BEHAVIOR: bool = true;

        fn admit(&self, __bactor_msg: &Self::Msg) -> #p::Admit {
            #[allow(unreachable_patterns)]
            match *__bactor_msg {
                #(#arms)*
                _ => #p::Admit::Serve,
            }
        }

        fn state_key(&self) -> u64 {
            #p::state_key(<Self as #p::HasState>::state(self))
        }

        fn state_name(&self) -> ::std::string::String {
            #[allow(unused_imports)]
            use #p::{StateNameDebug as _, StateNameOther as _};
            (&#p::StateName(<Self as #p::HasState>::state(self))).state_name()
        }
    }
}

/// Generates the message enum, the ref methods and the `Actor` impl, from the handlers
/// and events that were accepted; rejected handlers get a ref method each (see
/// `expand_stand_in`), so the rest of the user's code compiles as if they were right.
pub(crate) fn expand_impl(m: &ActorImpl<'_>) -> TokenStream {
    let handlers = &m.handlers;
    let krate = &m.krate;
    let name = &m.name;
    let msg = &m.msg_ident;
    let self_ty = m.self_ty;
    let ref_ty = &m.ref_ty;
    let generics = &m.item.generics;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let params = &generics.params;
    let msg_ty = quote!(#msg #ty_generics);

    // Type parameters of the impl may not appear in any handler; a hidden, uninhabited
    // variant uses them all so the enum is always well-formed.
    let phantom = phantom_type(generics);
    let has_phantom = phantom.is_some();
    let phantom_variant = phantom.map(|phantom| {
        quote! {
            #[doc(hidden)]
            __BactorPhantom(#phantom, ::core::convert::Infallible),
        }
    });
    let phantom_arm = |value: TokenStream| {
        has_phantom.then(|| quote!(#msg::__BactorPhantom(_, ref __bactor_never) => { let _ = #value; match *__bactor_never {} }))
    };

    let variants = handlers.iter().map(|h| {
        let variant = &h.variant;
        let docs = &h.docs;
        let reply = &h.reply;
        let method = &h.method;
        let fields = h.args().map(|(n, ty)| {
            let doc = format!("The `{n}` argument of `{name}::{method}`.");
            quote!(#[doc = #doc] #n: #ty)
        });
        quote! {
            #(#docs)*
            #variant {
                #(#fields,)*
                #[doc(hidden)]
                __bactor_reply: ::core::option::Option<#krate::__private::ReplyTo<#reply>>,
            },
        }
    });

    let debug_arms = handlers.iter().map(|h| {
        let variant = &h.variant;
        let shown = format!("{msg}::{variant}");
        quote!(#msg::#variant { .. } => f.debug_struct(#shown).finish_non_exhaustive(),)
    });
    let debug_phantom = phantom_arm(quote!(f));

    let name_arms = handlers.iter().map(|h| {
        let variant = &h.variant;
        let shown = format!("{name}::{}", h.method);
        quote!(#msg::#variant { .. } => #shown,)
    });
    let name_phantom = phantom_arm(quote!(()));

    let ref_methods = handlers.iter().map(|h| expand_ref_method(m, h));
    let stand_ins = m.stand_ins.iter().map(|s| expand_stand_in(m, s));
    let dispatch_arms = handlers.iter().map(|h| expand_dispatch_arm(m, h));
    let dispatch_phantom = phantom_arm(quote!(&__bactor_ctx));
    // A persistent actor's replies go through the context (`send_reply`).
    let uses_ctx = handlers.iter().any(Handler::uses_ctx) || !m.events.is_empty();
    let ctx_param = if uses_ctx || has_phantom {
        quote!(__bactor_ctx)
    } else {
        quote!(_)
    };
    let dispatch = if handlers.is_empty() {
        // Nothing to handle: the enum is uninhabited and the match is the whole body.
        quote!(match __bactor_msg { #dispatch_phantom })
    } else {
        quote! {
            match __bactor_msg {
                #(#dispatch_arms)*
                #dispatch_phantom
            }
            ::core::result::Result::Ok(())
        }
    };

    let hooks = m.hooks.iter().map(|h| expand_hook(krate, h));

    let persistence = expand_events(m);
    let recover = (!m.events.is_empty()).then(|| {
        quote! {
            fn recover(
                &mut self,
                __bactor_ctx: &mut #krate::__private::Context<Self>,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), #krate::__private::ActorError>,
            > + ::core::marker::Send {
                #krate::__private::recover(self, __bactor_ctx)
            }
        }
    });

    // Any level other than normal gives the actor a priority mailbox.
    let priorities = handlers
        .iter()
        .any(|h| h.priority.is_some_and(|p| p != "Normal"))
        .then(|| {
            let arms = handlers.iter().filter_map(|h| {
                let level = format_ident!("{}", h.priority?);
                let variant = &h.variant;
                Some(quote!(#msg::#variant { .. } => #krate::__private::Priority::#level,))
            });
            quote! {
                fn has_priorities() -> bool {
                    true
                }
                #[allow(unreachable_patterns)]
                fn message_priority(__bactor_msg: &Self::Msg) -> #krate::__private::Priority {
                    match *__bactor_msg {
                        #(#arms)*
                        _ => #krate::__private::Priority::Normal,
                    }
                }
            }
        });

    let (remote_stub, remote_items) = expand_remote(m, handlers, &phantom_arm);
    let behavior = expand_behavior(m, handlers);
    let route_arms: Vec<TokenStream> = handlers
        .iter()
        .filter_map(|h| {
            let (field, key) = h.route_key.as_ref()?;
            let variant = &h.variant;
            let hash = quote_spanned!(key.span()=> #krate::__private::route_key(__bactor_key));
            Some(quote! {
                #msg::#variant { #field: ref __bactor_key, .. } => ::core::option::Option::Some(#hash),
            })
        })
        .collect();
    let route_key = (!route_arms.is_empty()).then(|| {
        quote! {
            fn route_key(__bactor_msg: &Self::Msg) -> ::core::option::Option<u64> {
                #[allow(unreachable_patterns)]
                match *__bactor_msg {
                    #(#route_arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    });
    let refuse_arms = handlers.iter().map(|h| {
        let variant = &h.variant;
        quote! {
            #msg::#variant { __bactor_reply, .. } => {
                if let ::core::option::Option::Some(__bactor_reply) = __bactor_reply {
                    __bactor_reply.refuse(__bactor_error);
                }
            }
        }
    });
    let refuse_phantom = phantom_arm(quote!(&__bactor_error));
    let refuse = quote! {
        fn refuse(__bactor_msg: Self::Msg, __bactor_error: #krate::__private::AskError) {
            match __bactor_msg {
                #(#refuse_arms)*
                #refuse_phantom
            }
        }
    };

    let msg_doc = format!(
        "The messages of [`{name}`], one variant per `#[handler]`, carried by value in its mailbox.\n\n\
         Generated by `#[actor]`; build them through the methods of `{name}Ref`."
    );

    quote! {
        #[doc = #msg_doc]
        // Handler argument types may be more private than this enum; its visibility must
        // still cover the actor's, which the `impl` block cannot see.
        #[allow(private_interfaces, private_bounds)]
        pub enum #msg <#params> #where_clause {
            #(#variants)*
            #phantom_variant
        }

        #[automatically_derived]
        impl #impl_generics ::core::fmt::Debug for #msg_ty #where_clause {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match *self {
                    #(#debug_arms)*
                    #debug_phantom
                }
            }
        }

        #[allow(private_interfaces, private_bounds)]
        impl #impl_generics #ref_ty #where_clause {
            #(#ref_methods)*
            #(#stand_ins)*
        }

        #[automatically_derived]
        impl #impl_generics #krate::__private::Actor for #self_ty #where_clause {
            type Msg = #msg_ty;
            type Ref = #ref_ty;

            fn handle(
                &mut self,
                __bactor_msg: Self::Msg,
                #ctx_param: &mut #krate::__private::Context<Self>,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<(), #krate::__private::ActorError>,
            > + ::core::marker::Send {
                async move { #dispatch }
            }

            #(#hooks)*
            #recover

            fn supervisor_strategy() -> ::core::option::Option<#krate::__private::SupervisorStrategy> {
                <Self as #krate::__private::ActorOptions>::supervisor_strategy()
            }

            fn mailbox() -> ::core::option::Option<#krate::__private::MailboxConfig> {
                <Self as #krate::__private::ActorOptions>::mailbox()
            }

            fn custom_mailbox() -> ::core::option::Option<
                ::std::boxed::Box<dyn #krate::__private::Mailbox<Self::Msg>>,
            > {
                <Self as #krate::__private::ActorOptions>::custom_mailbox()
            }

            fn throughput() -> ::core::option::Option<usize> {
                <Self as #krate::__private::ActorOptions>::throughput()
            }

            fn stash_capacity() -> ::core::option::Option<usize> {
                <Self as #krate::__private::ActorOptions>::stash_capacity()
            }

            #priorities
            #remote_stub
            #behavior
            #refuse
            #route_key

            fn message_name(__bactor_msg: &Self::Msg) -> &'static str {
                match *__bactor_msg {
                    #(#name_arms)*
                    #name_phantom
                }
            }
        }

        #persistence
        #remote_items
    }
}

/// The field type of an enum's hidden, uninhabited variant that uses every type parameter
/// of `generics` (its other variants may not); `None` without type parameters.
fn phantom_type(generics: &syn::Generics) -> Option<TokenStream> {
    let params: Vec<_> = generics.type_params().map(|t| &t.ident).collect();
    (!params.is_empty()).then(|| quote!(::core::marker::PhantomData<fn() -> (#(#params,)*)>))
}

/// The `{Name}Event` enum and the `PersistentActor` impl, for an impl with `#[event]`s;
/// without any, a check that the struct is not `#[persistent]`.
fn expand_events(m: &ActorImpl<'_>) -> TokenStream {
    if m.events.is_empty() {
        return expand_not_persistent(m);
    }
    let krate = &m.krate;
    let p = quote!(#krate::__private);
    let name = &m.name;
    let self_ty = m.self_ty;
    let event = &m.event_ident;
    let serde_crate = quote!(#p::serde).to_string().replace(' ', "");
    // A generic actor's events are generic over all its type parameters: a hidden,
    // uninhabited variant (never stored) uses those no event field does.
    let generics = &m.item.generics;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let params = &generics.params;
    let event_ty = quote!(#event #ty_generics);
    // Declared without the impl's bounds: serde's derives infer their own (`T:
    // Deserialize<'de>`), which a declared `T: DeserializeOwned` would make ambiguous.
    let enum_params = params.iter().map(|p| match p {
        GenericParam::Type(t) => {
            let ident = &t.ident;
            quote!(#ident)
        }
        GenericParam::Const(c) => {
            let (ident, ty) = (&c.ident, &c.ty);
            quote!(const #ident: #ty)
        }
        GenericParam::Lifetime(l) => {
            let lifetime = &l.lifetime;
            quote!(#lifetime)
        }
    });
    let phantom = phantom_type(generics);
    let has_phantom = phantom.is_some();
    let phantom_variant = phantom.map(|phantom| {
        quote! {
            #[doc(hidden)]
            #[serde(skip)]
            __BactorPhantom(#phantom, ::core::convert::Infallible),
        }
    });
    let phantom_arm = has_phantom.then(
        || quote!(#event::__BactorPhantom(_, ref __bactor_never) => match *__bactor_never {},),
    );
    // The same, for `match event` by value.
    let phantom_arm_owned = has_phantom
        .then(|| quote!(#event::__BactorPhantom(_, __bactor_never) => match __bactor_never {},));
    // The serde bounds of the event enum, which the derives put on type parameters used
    // in its fields: the impl holds where they hold (for every type, for a plain actor).
    // So do the options, which a generic state with snapshots has where it is
    // serializable: stated here, the body's use of them is no error of its own.
    let event_bounds =
        has_phantom.then(|| quote!(#event_ty: #p::StorableEvent, Self: #p::PersistOptions,));
    let persistent_where = match where_clause {
        Some(w) => {
            let preds = w.predicates.iter();
            quote!(where #(#preds,)* #event_bounds)
        }
        None if has_phantom => quote!(where #event_bounds),
        None => TokenStream::new(),
    };
    let variants = m.events.iter().map(|e| {
        let variant = &e.variant;
        let docs = &e.docs;
        let method = &e.method;
        let fields = e.args.iter().zip(&e.serde_attrs).map(|((n, ty), serde)| {
            let doc = format!("The `{n}` argument of `{name}::{method}`.");
            quote!(#(#serde)* #[doc = #doc] #n: #ty)
        });
        let rename = e.name.as_ref().map(|n| quote!(#[serde(rename = #n)]));
        quote!(#(#docs)* #rename #variant { #(#fields,)* },)
    });
    let apply_arms = m.events.iter().map(|e| {
        let variant = &e.variant;
        let method = &e.method;
        if !e.applies {
            // Rejected (see the error on the method): built, never applied.
            return quote!(#event::#variant { .. } => {});
        }
        let names: Vec<_> = e.args.iter().map(|(n, _)| n).collect();
        quote!(#event::#variant { #(#names,)* } => Self::#method(self, #(#names),*),)
    });
    let manifest_arms = m.events.iter().map(|e| {
        let variant = &e.variant;
        let manifest = match &e.name {
            Some(n) => n.value(),
            None => format!("{name}::{variant}"),
        };
        quote!(#event::#variant { .. } => #manifest,)
    });
    let tag_arms = m.events.iter().map(|e| {
        let variant = &e.variant;
        let tags = &e.tags;
        quote!(#event::#variant { .. } => &[#(#tags),*],)
    });
    let snapshot_manifest = name.to_string();
    let debug_arms = m.events.iter().map(|e| {
        let variant = &e.variant;
        let shown = format!("{event}::{variant}");
        quote!(#event::#variant { .. } => f.debug_struct(#shown).finish_non_exhaustive(),)
    });
    let doc = format!(
        "The events of [`{name}`], one variant per `#[event]` method: what its journal stores.\n\n\
         Generated by `#[actor]`; serialized as externally tagged JSON, with the manifest \
         `{name}::Variant` (or the `#[event(name = ..)]`, which is also the JSON tag)."
    );
    quote! {
        #[doc = #doc]
        #[derive(#p::serde::Serialize, #p::serde::Deserialize)]
        #[serde(crate = #serde_crate)]
        // Event field types may be more private than this enum (see the message enum).
        #[allow(private_interfaces)]
        pub enum #event <#(#enum_params),*> {
            #(#variants)*
            #phantom_variant
        }

        #[automatically_derived]
        impl #impl_generics ::core::fmt::Debug for #event_ty #where_clause {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match *self {
                    #(#debug_arms)*
                    #phantom_arm
                }
            }
        }

        #[automatically_derived]
        impl #impl_generics #p::PersistentActor for #self_ty #persistent_where {
            type Event = #event_ty;

            fn apply_event(&mut self, event: #event_ty) {
                match event {
                    #(#apply_arms)*
                    #phantom_arm_owned
                }
            }

            fn event_manifest(event: &#event_ty) -> &'static str {
                match *event {
                    #(#manifest_arms)*
                    #phantom_arm
                }
            }

            fn snapshot_manifest() -> &'static str {
                #snapshot_manifest
            }

            fn persist_config() -> #p::PersistConfig {
                <Self as #p::PersistOptions>::config()
            }

            fn snapshot_state(&self) -> ::core::option::Option<::core::result::Result<::std::string::String, #p::serde_json::Error>> {
                <Self as #p::PersistOptions>::snapshot_state(self)
            }

            fn restore_state(payload: &str) -> ::core::option::Option<::core::result::Result<Self, #p::serde_json::Error>> {
                <Self as #p::PersistOptions>::restore_state(payload)
            }

            fn upcaster() -> ::core::option::Option<#p::Upcaster> {
                <Self as #p::PersistOptions>::upcaster()
            }

            fn event_tags(event: &#event_ty) -> ::std::vec::Vec<::std::string::String> {
                let fixed: &[&str] = match *event {
                    #(#tag_arms)*
                    #phantom_arm
                };
                let mut tags = <Self as #p::PersistOptions>::tags(event);
                tags.extend(fixed.iter().map(|t| ::std::string::ToString::to_string(*t)));
                tags
            }
        }
    }
}

/// For `#[actor(remote)]`: the `remote_stub` of the `Actor` impl (encode, decode and the
/// reply slots of each handler's message), the `RemoteActor` impl, and a check that every
/// argument and reply type is a serde type, spanned on the type.
fn expand_remote(
    m: &ActorImpl<'_>,
    handlers: &[Handler],
    phantom_arm: &dyn Fn(TokenStream) -> Option<TokenStream>,
) -> (TokenStream, TokenStream) {
    let Some(kind) = &m.remote else {
        return (TokenStream::new(), TokenStream::new());
    };
    let krate = &m.krate;
    let p = quote!(#krate::__private);
    let r = quote!(#p::remote);
    let msg = &m.msg_ident;
    let name = &m.name;
    let self_ty = m.self_ty;
    let (impl_generics, _, where_clause) = m.item.generics.split_for_impl();
    let methods = handlers.iter().map(|h| format!("{name}::{}", h.method));
    // The serde code goes through `Probe`, which compiles whatever the types (it fails at
    // run time for a type that is not serde); the one compile error for such a type is
    // the `assert_remote` below, spanned on the type.
    let encode_arms = handlers.iter().enumerate().map(|(i, h)| {
        let variant = &h.variant;
        let names: Vec<_> = h.args().map(|(n, _)| n).collect();
        quote! {
            #msg::#variant { #(ref #names,)* .. } => {
                let __bactor_args = (#(#names,)*);
                #[allow(unused_imports)]
                use #r::{NotSerde as _, ViaSerde as _};
                (&#r::Probe::of(&__bactor_args)).encode(&__bactor_args, __bactor_codec, __bactor_out)?;
                ::core::result::Result::Ok(#i)
            }
        }
    });
    let take_arms = handlers.iter().map(|h| {
        let variant = &h.variant;
        let reply = &h.reply;
        quote! {
            #msg::#variant { __bactor_reply, .. } => {
                #[allow(unused_imports)]
                use #r::{NotSerdeOwned as _, ViaSerdeOwned as _};
                ::core::option::Option::map(__bactor_reply, |__bactor_slot| {
                    (&#r::Probe::<#reply>::new()).pending(__bactor_slot)
                })
            }
        }
    });
    let decode_arms = handlers.iter().enumerate().map(|(i, h)| {
        let variant = &h.variant;
        let names: Vec<_> = h.args().map(|(n, _)| n).collect();
        let tys: Vec<_> = h.args().map(|(_, ty)| ty).collect();
        let reply = &h.reply;
        quote! {
            #i => {
                #[allow(unused_imports)]
                use #r::{NotSerdeOwned as _, ViaSerdeOwned as _};
                let (#(#names,)*) = (&#r::Probe::<(#(#tys,)*)>::new()).decode(__bactor_codec, __bactor_payload)?;
                ::core::result::Result::Ok(
                    #msg::#variant {
                        #(#names,)*
                        __bactor_reply: ::core::option::Option::map(
                            ::core::option::Option::take(__bactor_reply),
                            |__bactor_channel| (&#r::Probe::<#reply>::new()).reply_to(__bactor_channel),
                        ),
                    },
                )
            }
        }
    });
    let asserts = handlers.iter().flat_map(|h| {
        h.args()
            .map(|(_, ty)| ty)
            .chain(std::iter::once(&h.reply))
            .map(|ty| quote_spanned!(ty.span()=> #r::assert_remote::<#ty>();))
            .collect::<Vec<_>>()
    });
    let encode_phantom = phantom_arm(quote!((__bactor_codec, __bactor_out)));
    let take_phantom = phantom_arm(quote!(()));
    let take_match = if handlers.is_empty() {
        quote!(match __bactor_msg { #take_phantom })
    } else {
        quote!(match __bactor_msg { #(#take_arms)* #take_phantom })
    };
    let encode_match = if handlers.is_empty() {
        quote!(match *__bactor_msg { #encode_phantom })
    } else {
        quote!(match *__bactor_msg { #(#encode_arms)* #encode_phantom })
    };
    let stub = quote! {
        #p::remote_items! {
            fn remote_stub() -> ::core::option::Option<#r::RemoteStub<Self>> {
                #(#asserts)*
                ::core::option::Option::Some(#r::RemoteStub {
                    kind: #kind,
                    methods: &[#(#methods),*],
                    encode: |__bactor_msg, __bactor_codec, __bactor_out| #encode_match,
                    take_reply: |__bactor_msg| #take_match,
                    decode: |__bactor_index, __bactor_payload, __bactor_codec, __bactor_reply| {
                        let _ = (&__bactor_payload, &__bactor_codec, &__bactor_reply);
                        match __bactor_index {
                            #(#decode_arms)*
                            _ => ::core::result::Result::Err(#r::CodecError::unknown_method(__bactor_index)),
                        }
                    },
                })
            }
        }
    };
    let items = quote! {
        #p::remote_items! {
            #[automatically_derived]
            impl #impl_generics #r::RemoteActor for #self_ty #where_clause {
                const KIND: &'static str = #kind;
            }
        }
    };
    (stub, items)
}

/// For an impl block without `#[event]` methods: a struct marked `#[persistent]` is a
/// mistake (it would never persist anything). Checked at compile time through the flag
/// the struct's `#[actor]` sets (see `NotPersistent`), and reported on the impl's self
/// type.
fn expand_not_persistent(m: &ActorImpl<'_>) -> TokenStream {
    if !crate::persistent::ENABLED || !m.item.generics.params.is_empty() {
        return TokenStream::new();
    }
    let krate = &m.krate;
    let self_ty = m.self_ty;
    let name = &m.name;
    let msg = format!(
        "`{name}` is marked `#[persistent]` but its `#[actor]` impl block has no `#[event]` methods; add one (`#[event] fn added(&mut self, ..) {{ .. }}`) and persist it from a handler, or remove `#[persistent]`"
    );
    let msg = msg.replace('{', "{{").replace('}', "}}");
    let fail = quote_spanned!(self_ty.span()=> ::core::panic!(#msg));
    quote! {
        const _: () = {
            #[allow(unused_imports)]
            use #krate::__private::NotPersistent as _;
            if <#self_ty>::__BACTOR_PERSISTENT {
                #fail
            }
        };
    }
}

/// The ref method of a rejected handler: its signature as the user wrote it, so that
/// callers type-check. It is never compiled into a program: the handler's error stops the
/// build.
fn expand_stand_in(m: &ActorImpl<'_>, s: &StandIn) -> TokenStream {
    let krate = &m.krate;
    let self_ty = m.self_ty;
    let StandIn {
        method,
        vis,
        generics,
        args,
        reply,
        fallible,
    } = s;
    let (_, _, where_clause) = generics.split_for_impl();
    let params = &generics.params;
    let shape = if *fallible {
        quote!(#krate::__private::Fallible)
    } else {
        quote!(#krate::__private::Plain)
    };
    quote! {
        #[allow(unused, clippy::all)]
        #vis fn #method<#params>(&self, #(_: #args),*) -> #krate::__private::Request<'_, #self_ty, #reply, #shape> #where_clause {
            ::core::unreachable!("a rejected `#[handler]` is never compiled")
        }
    }
}

fn expand_ref_method(m: &ActorImpl<'_>, h: &Handler) -> TokenStream {
    let krate = &m.krate;
    let msg = &m.msg_ident;
    let self_ty = m.self_ty;
    let method = &h.method;
    let variant = &h.variant;
    let vis = &h.vis;
    let docs = &h.docs;
    let reply = &h.reply;
    let args: Vec<_> = h.args().map(|(n, ty)| quote!(#n: #ty)).collect();
    let names: Vec<_> = h.args().map(|(n, _)| n).collect();
    let shape = if h.fallible {
        quote!(#krate::__private::Fallible)
    } else {
        quote!(#krate::__private::Plain)
    };
    quote! {
        #(#docs)*
        // A one-handler enum makes the `if let` below irrefutable.
        #[allow(irrefutable_let_patterns)]
        #vis fn #method(&self, #(#args),*) -> #krate::__private::Request<'_, #self_ty, #reply, #shape> {
            #krate::__private::Request::new(
                &self.0,
                #msg::#variant { #(#names,)* __bactor_reply: ::core::option::Option::None },
                |__bactor_msg, __bactor_reply| {
                    if let #msg::#variant { __bactor_reply: __bactor_slot, .. } = __bactor_msg {
                        *__bactor_slot = ::core::option::Option::Some(__bactor_reply);
                    }
                },
            )
        }
    }
}

fn expand_dispatch_arm(m: &ActorImpl<'_>, h: &Handler) -> TokenStream {
    let krate = &m.krate;
    let msg = &m.msg_ident;
    let variant = &h.variant;
    let method = &h.method;
    let bindings: Vec<_> = h
        .args()
        .enumerate()
        .map(|(i, (n, _))| (n, format_ident!("__bactor_a{}", i)))
        .collect();
    let pattern = bindings.iter().map(|(n, local)| quote!(#n: #local));
    let mut locals = bindings.iter().map(|(_, local)| local);
    let call_args: Vec<TokenStream> = h
        .params
        .iter()
        .map(|p| match p {
            Param::Ctx => quote!(&mut *__bactor_ctx),
            // A tell has no asker: its slot answers nobody.
            Param::Reply => {
                quote!(__bactor_reply.unwrap_or_else(#krate::__private::ReplyTo::detached))
            }
            Param::Arg { .. } => {
                let local = locals.next();
                quote!(#local)
            }
        })
        .collect();
    let call = if h.is_async {
        quote!(Self::#method(self, #(#call_args),*).await)
    } else {
        quote!(Self::#method(self, #(#call_args),*))
    };
    // A persistent actor's replies go through its context: one that depends on events
    // persisted with `persist_deferred` is held until they are durable.
    let send = |value: TokenStream| {
        if m.events.is_empty() {
            quote!(let _ = __bactor_reply.send(#value);)
        } else {
            quote!(#krate::__private::send_reply(&mut *__bactor_ctx, __bactor_reply, #value);)
        }
    };
    let send_ok = send(quote!(::core::result::Result::Ok(__bactor_value)));
    let send_out = send(quote!(__bactor_out));
    if h.defers_reply() {
        // The handler took its slot: it answers through it, now or later.
        return quote! {
            #msg::#variant { #(#pattern,)* __bactor_reply } => {
                #call;
            }
        };
    }
    if h.fail_on_error {
        // Spanned on the error type: one that does not convert into `ActorError` is
        // reported there.
        let err_span = crate::types::result_args(&h.reply)
            .map_or_else(proc_macro2::Span::call_site, |(_, err)| err.span());
        let into_actor_error = quote_spanned! {err_span=>
            ::core::convert::Into::<#krate::__private::ActorError>::into(__bactor_error)
        };
        return quote! {
            #msg::#variant { #(#pattern,)* __bactor_reply } => {
                match #call {
                    ::core::result::Result::Ok(__bactor_value) => {
                        if let ::core::option::Option::Some(__bactor_reply) = __bactor_reply {
                            // The asker may have given up; nothing to do then.
                            #send_ok
                        }
                    }
                    ::core::result::Result::Err(__bactor_error) => {
                        // The error goes to the supervisor; the asker learns of the failure.
                        if let ::core::option::Option::Some(__bactor_reply) = __bactor_reply {
                            __bactor_reply.fail();
                        }
                        return ::core::result::Result::Err(#into_actor_error);
                    }
                }
            }
        };
    }
    quote! {
        #msg::#variant { #(#pattern,)* __bactor_reply } => {
            let __bactor_out = #call;
            if let ::core::option::Option::Some(__bactor_reply) = __bactor_reply {
                // The asker may have given up (timeout, dropped future); nothing to do then.
                #send_out
            }
        }
    }
}
