//! The typed model of an `#[actor]` impl block: its handlers and lifecycle hooks.

use heck::ToUpperCamelCase;
use proc_macro2::Span;
use syn::{
    Attribute, FnArg, GenericParam, Ident, ImplItem, ImplItemFn, ItemImpl, Pat, ReceiverKind,
    ReturnType, Type, Visibility,
};

use super::event::{EventDef, is_event_attr, parse_event};
use super::hooks::{Hook, HookKind, parse_hook};
use crate::attr::{
    ActorArgs, HandlerArgs, Otherwise, ReplyKind, When, is_attr, is_doc_attr, is_handler_attr,
};
use crate::ctxt::Ctxt;
use crate::paths;
use crate::symbol;
use crate::types::{
    context_param, has_impl_trait, is_result, is_unit, not_owned, not_send, replace_self,
    reply_param,
};

pub(crate) struct ActorImpl<'a> {
    pub(crate) item: &'a ItemImpl,
    pub(crate) krate: syn::Path,
    /// `Counter` in `impl Counter`.
    pub(crate) name: Ident,
    pub(crate) self_ty: &'a Type,
    /// `CounterRef<..>`: the self type with `Ref` appended to its name.
    pub(crate) ref_ty: Type,
    /// `CounterMsg`.
    pub(crate) msg_ident: Ident,
    pub(crate) handlers: Vec<Handler>,
    /// Methods marked `#[handler]` but rejected: each still gets its ref method, with
    /// the user's signature, so that its callers compile and the one error is the one
    /// that names the mistake.
    pub(crate) stand_ins: Vec<StandIn>,
    pub(crate) hooks: Vec<Hook>,
    pub(crate) events: Vec<EventDef>,
    /// `{Name}Event`.
    pub(crate) event_ident: Ident,
    /// `#[actor(remote)]`: the kind name.
    pub(crate) remote: Option<String>,
}

pub(crate) struct Handler {
    pub(crate) method: Ident,
    pub(crate) variant: Ident,
    pub(crate) vis: Visibility,
    pub(crate) docs: Vec<Attribute>,
    pub(crate) is_async: bool,
    pub(crate) params: Vec<Param>,
    /// The reply type, `()` when the method returns nothing; `Self` replaced.
    pub(crate) reply: Type,
    pub(crate) fallible: bool,
    /// `#[handler(fail_on_error)]`: an `Err` fails the actor instead of replying.
    pub(crate) fail_on_error: bool,
    /// `#[handler(priority = ..)]`: the `Priority` variant of its messages.
    pub(crate) priority: Option<&'static str>,
    /// `#[handler(when = ..)]`: the state variants it serves (every one without it).
    pub(crate) when: Option<When>,
    /// `#[handler(otherwise = ..)]`.
    pub(crate) otherwise: Option<Otherwise>,
    /// `#[handler(route_key = arg)]`: the argument (as named in the message variant) and
    /// the user's token.
    pub(crate) route_key: Option<(Ident, Ident)>,
}

/// The ref method of a rejected handler: the user's name, generics and arguments (the
/// context and the reply slot left out), returning a request for its reply type.
pub(crate) struct StandIn {
    pub(crate) method: Ident,
    pub(crate) vis: Visibility,
    pub(crate) generics: syn::Generics,
    pub(crate) args: Vec<Type>,
    pub(crate) reply: Type,
    pub(crate) fallible: bool,
}

pub(crate) enum Param {
    Ctx,
    Arg {
        name: Ident,
        ty: Box<Type>,
    },
    /// `reply: ReplyTo<T>`: the handler answers through the slot, now or later.
    Reply,
}

impl Handler {
    pub(crate) fn uses_ctx(&self) -> bool {
        self.params.iter().any(|p| matches!(p, Param::Ctx))
    }

    pub(crate) fn args(&self) -> impl Iterator<Item = (&Ident, &Type)> {
        self.params.iter().filter_map(|p| match p {
            Param::Arg { name, ty } => Some((name, &**ty)),
            Param::Ctx | Param::Reply => None,
        })
    }

    /// `true` when the handler takes its reply slot (`ReplyTo<T>`) and answers through it.
    pub(crate) fn defers_reply(&self) -> bool {
        self.params.iter().any(|p| matches!(p, Param::Reply))
    }
}

impl<'a> ActorImpl<'a> {
    /// Builds the model, recording every problem in `cx`. `None` only when the impl is so
    /// far off (a trait impl, an unnamed self type) that nothing useful can be generated.
    pub(crate) fn from_syn(item: &'a ItemImpl, args: &ActorArgs, cx: &mut Ctxt) -> Option<Self> {
        if let Some((path, _)) = &item.trait_ {
            cx.error_spanned_by(
                path,
                "`#[actor]` goes on the inherent `impl` block of the actor (`impl Counter { .. }`), not on a trait impl",
            );
            return None;
        }
        let mut has_lifetimes = false;
        for param in &item.generics.params {
            if let GenericParam::Lifetime(l) = param {
                cx.error_spanned_by(
                    l,
                    "actors must be `'static`: lifetime parameters are not supported; own the data instead (`String`, `Arc<..>`)",
                );
                has_lifetimes = true;
            }
        }
        if has_lifetimes {
            // Nothing generated for such an actor could compile.
            return None;
        }
        let Type::Path(type_path) = &*item.self_ty else {
            cx.error_spanned_by(
                &item.self_ty,
                "`#[actor]` needs a named self type, like `impl Counter`",
            );
            return None;
        };
        let Some(last) = type_path.path.segments.last() else {
            cx.error_spanned_by(&item.self_ty, "`#[actor]` needs a named self type");
            return None;
        };
        let name = last.ident.clone();
        let mut ref_path = type_path.clone();
        if let Some(seg) = ref_path.path.segments.last_mut() {
            seg.ident = Ident::new(&format!("{}Ref", seg.ident), seg.ident.span());
        }
        let msg_ident = Ident::new(&format!("{name}Msg"), name.span());
        let event_ident = Ident::new(&format!("{name}Event"), name.span());

        let mut model = ActorImpl {
            item,
            krate: paths::runtime(args.krate.as_ref()),
            name,
            self_ty: &item.self_ty,
            ref_ty: Type::Path(ref_path),
            msg_ident,
            handlers: Vec::new(),
            stand_ins: Vec::new(),
            hooks: Vec::new(),
            events: Vec::new(),
            event_ident,
            remote: None,
        };
        model.remote = args.remote.as_ref().map(|kind| match kind {
            Some(kind) => kind.value(),
            None => model.name.to_string(),
        });

        for impl_item in &item.items {
            match impl_item {
                ImplItem::Fn(f) => model.add_fn(f, cx),
                ImplItem::Const(c) => reject_handler_attr(&c.attrs, cx),
                ImplItem::Type(t) => reject_handler_attr(&t.attrs, cx),
                ImplItem::Macro(m) => reject_handler_attr(&m.attrs, cx),
                _ => {}
            }
        }
        super::validate::validate(&mut model, cx);
        Some(model)
    }

    fn add_fn(&mut self, f: &ImplItemFn, cx: &mut Ctxt) {
        let handler_attrs: Vec<&Attribute> =
            f.attrs.iter().filter(|a| is_handler_attr(a)).collect();
        if let Some(event_attr) = f.attrs.iter().find(|a| is_event_attr(a)) {
            if let Some(h) = handler_attrs.first() {
                cx.error_spanned_by(
                    h,
                    "a method is either a `#[handler]` or an `#[event]`, not both; split it: a handler that persists the event, and an `#[event]` method that applies it",
                );
            }
            if HookKind::from_name(&f.sig.ident.to_string()).is_some() {
                cx.error_spanned_by(&f.sig.ident, "a lifecycle hook cannot be an `#[event]`; rename the method, or remove `#[event]`");
            }
            if let Some(e) = parse_event(f, event_attr, cx) {
                self.events.push(e);
            }
            return;
        }
        let name = f.sig.ident.to_string();
        let not_hook = f.attrs.iter().find(|a| is_attr(a, symbol::NOT_HOOK));
        if let Some(attr) = not_hook
            && HookKind::from_name(&name).is_some()
        {
            cx.error_spanned_by(
                attr,
                format!(
                    "`{name}` is the name of a lifecycle hook, so this method is the hook; rename it to make it a plain method"
                ),
            );
            return;
        }
        if let Some(kind) = HookKind::from_name(&name) {
            if let Some(attr) = handler_attrs.first() {
                cx.error_spanned_by(
                    attr,
                    format!(
                        "`{name}` is a lifecycle hook, recognised by its name; remove `#[handler]`"
                    ),
                );
            }
            if let Some(hook) = parse_hook(kind, f, cx) {
                self.hooks.push(hook);
            }
            return;
        }
        let Some(first) = handler_attrs.first() else {
            if not_hook.is_none()
                && let Some(kind) = HookKind::resembled_by(&name)
            {
                cx.error_spanned_by(
                    &f.sig.ident,
                    format!(
                        "`{name}` is not a lifecycle hook, and would be a plain method that bactor never calls; did you mean `{}`? Rename it, or mark it `#[not_hook]` to keep it a plain method",
                        kind.name()
                    ),
                );
            }
            return;
        };
        for extra in &handler_attrs[1..] {
            cx.error_spanned_by(
                extra,
                "`#[handler]` specified more than once on this method; keep one",
            );
        }
        let mut args = HandlerArgs::parse(first, cx);
        if let (Some((_, span)), None) = (args.otherwise, &args.when) {
            cx.error_spanned_by(
                &quote::quote_spanned!(span=> otherwise),
                "`otherwise` says what happens to this handler's messages in the states it does not serve; add `when = ..` to name the states it serves",
            );
        }
        match parse_handler(f, &mut args, self.self_ty, cx) {
            Parsed::Handler(h) => self.handlers.push(h),
            Parsed::StandIn(s) => self.stand_ins.push(s),
            Parsed::Nothing => {}
        }
    }
}

fn reject_handler_attr(attrs: &[Attribute], cx: &mut Ctxt) {
    for attr in attrs.iter().filter(|a| is_handler_attr(a)) {
        cx.error_spanned_by(attr, "`#[handler]` goes on methods (`fn`) only");
    }
}

/// What became of a `#[handler]` method.
enum Parsed {
    Handler(Handler),
    /// Rejected, with a ref method standing in.
    StandIn(StandIn),
    /// Rejected, with nothing generated (a reserved name).
    Nothing,
}

fn parse_handler(f: &ImplItemFn, args: &mut HandlerArgs, self_ty: &Type, cx: &mut Ctxt) -> Parsed {
    let sig = &f.sig;
    let mut ok = true;
    let mut fail = |cx: &mut Ctxt, tokens: &dyn quote::ToTokens, msg: String| {
        ok = false;
        cx.error_spanned_by(tokens, msg);
    };

    if let syn::Safety::Unsafe(t) = &sig.safety {
        fail(cx, t, "`#[handler]` methods cannot be `unsafe`: the generated ref calls them; remove `unsafe` and use an `unsafe` block inside".into());
    }
    if let Some(abi) = &sig.abi {
        fail(
            cx,
            abi,
            "`#[handler]` methods cannot have an `extern` ABI; remove it".into(),
        );
    }
    if let Some(c) = &sig.constness {
        fail(
            cx,
            c,
            "`#[handler]` methods cannot be `const`; remove `const`".into(),
        );
    }
    if !sig.generics.params.is_empty() {
        fail(
            cx,
            &sig.generics.params,
            "`#[handler]` methods cannot be generic: each handler becomes a message variant with concrete types; make the actor generic instead".into(),
        );
    } else if let Some(w) = &sig.generics.where_clause {
        fail(
            cx,
            w,
            "`#[handler]` methods cannot have a `where` clause; put bounds on the `impl` block"
                .into(),
        );
    }
    match sig.receiver() {
        None => fail(
            cx,
            &sig.ident,
            format!("`#[handler]` methods take `&self` or `&mut self`; `{}` has no `self` parameter", sig.ident),
        ),
        Some(recv) => match &recv.kind {
            ReceiverKind::Reference(..) => {}
            ReceiverKind::Value => fail(
                cx,
                recv,
                "`#[handler]` methods take `&self` or `&mut self`; found `self` by value (the actor lives on after each message)".into(),
            ),
            ReceiverKind::Typed(_, ty) => fail(
                cx,
                ty,
                "`#[handler]` methods take `&self` or `&mut self`; typed receivers are not supported".into(),
            ),
            _ => fail(cx, recv, "`#[handler]` methods take `&self` or `&mut self`".into()),
        },
    }

    let method_name = sig.ident.to_string();
    let bare = method_name.strip_prefix("r#").unwrap_or(&method_name);
    let reserved = symbol::RESERVED_REF_METHODS.contains(&bare);
    if reserved {
        fail(
            cx,
            &sig.ident,
            format!(
                "a handler named `{bare}` would hide `{bare}` on the generated ref; rename the method"
            ),
        );
    }

    let mut params = Vec::new();
    let mut ctx_seen = false;
    // The `T` of a `ReplyTo<T>` parameter: the reply type of a handler that answers
    // through its slot.
    let mut deferred: Option<Type> = None;
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        match context_param(&pt.ty) {
            Some(true) => {
                if ctx_seen {
                    fail(
                        cx,
                        pt,
                        "only one `&mut Context<Self>` parameter is allowed; remove this one"
                            .into(),
                    );
                }
                ctx_seen = true;
                params.push(Param::Ctx);
                continue;
            }
            Some(false) => {
                fail(
                    cx,
                    &pt.ty,
                    "the context parameter must be `&mut Context<Self>`".into(),
                );
                continue;
            }
            None => {}
        }
        if let Some(t) = reply_param(&pt.ty) {
            if deferred.is_some() {
                fail(
                    cx,
                    pt,
                    "only one `ReplyTo<..>` parameter is allowed: it is the one reply of this handler; remove this one".into(),
                );
            }
            deferred = Some(replace_self(t, self_ty));
            params.push(Param::Reply);
            continue;
        }
        if let Some(msg) = not_owned(&pt.ty, "handler arguments", "are moved into the message") {
            fail(cx, &pt.ty, msg);
            continue;
        }
        if let Some((part, why)) = not_send(&pt.ty) {
            fail(
                cx,
                part,
                format!(
                    "handler arguments travel to the actor, which may run on another thread: {why}"
                ),
            );
            continue;
        }
        let name = match &*pt.pat {
            Pat::Ident(p) if p.subpat.is_none() => {
                let s = p.ident.to_string();
                Ident::new(s.strip_prefix("r#").unwrap_or(&s), p.ident.span())
            }
            _ => Ident::new(&format!("arg{i}"), Span::call_site()),
        };
        params.push(Param::Arg {
            name,
            ty: Box::new(replace_self(&pt.ty, self_ty)),
        });
    }

    let reply = match (&sig.output, deferred) {
        (ReturnType::Default, Some(t)) => t,
        (ReturnType::Type(_, ty), Some(t)) => {
            if !is_unit(ty) {
                fail(
                    cx,
                    ty,
                    "a handler that takes its `ReplyTo<..>` answers through it and returns nothing; remove the return type".into(),
                );
            }
            t
        }
        (ReturnType::Default, None) => syn::parse_quote!(()),
        (ReturnType::Type(_, ty), None) => {
            if has_impl_trait(ty) {
                fail(
                    cx,
                    ty,
                    "`#[handler]` methods cannot return `impl Trait`: the reply travels to the asker and needs a concrete type".into(),
                );
                syn::parse_quote!(())
            } else {
                replace_self(ty, self_ty)
            }
        }
    };
    if let Some((part, why)) = not_send(&reply) {
        fail(
            cx,
            part,
            format!("the reply travels back to the asker, which may run on another thread: {why}"),
        );
    }
    let fallible = match args.reply {
        ReplyKind::Auto => is_result(&reply),
        ReplyKind::Plain => false,
        ReplyKind::Result => true,
    };

    let route_key = match args.route_key.take() {
        None => None,
        Some(key) => {
            let bare = key.to_string();
            let bare = bare.strip_prefix("r#").unwrap_or(&bare).to_owned();
            let found = params.iter().find_map(|p| match p {
                Param::Arg { name, .. } if *name == bare => Some(name.clone()),
                _ => None,
            });
            match found {
                Some(name) => Some((name, key)),
                None => {
                    let names: Vec<String> = params
                        .iter()
                        .filter_map(|p| match p {
                            Param::Arg { name, .. } => Some(format!("`{name}`")),
                            Param::Ctx | Param::Reply => None,
                        })
                        .collect();
                    let hint = if names.is_empty() {
                        format!("`{}` takes no arguments to route by", sig.ident)
                    } else {
                        format!(
                            "it names one of the arguments of `{}`: {}",
                            sig.ident,
                            names.join(", ")
                        )
                    };
                    // Reported; the handler is generated without it.
                    cx.error_spanned_by(
                        &key,
                        format!("`route_key`: no argument named `{bare}`; {hint}"),
                    );
                    None
                }
            }
        }
    };

    // A misplaced `fail_on_error` is reported, and the handler generated without it.
    let mut fail_on_error = args.fail_on_error.is_some();
    if let Some(span) = args.fail_on_error
        && params.iter().any(|p| matches!(p, Param::Reply))
    {
        fail_on_error = false;
        cx.error_spanned_by(
            quote::quote_spanned!(span=> fail_on_error),
            "`fail_on_error` acts on the value a handler returns; a handler that answers through its `ReplyTo<..>` returns none: fail the actor with `ctx.fail_after_handler(..)` instead",
        );
    } else if let Some(span) = args.fail_on_error
        && !fallible
    {
        fail_on_error = false;
        cx.error_spanned_by(
            quote::quote_spanned!(span=> fail_on_error),
            "`fail_on_error` needs a handler returning `Result<T, E>` (or `#[handler(reply = result)]`)",
        );
    }
    if reserved {
        return Parsed::Nothing;
    }
    if !ok {
        return Parsed::StandIn(stand_in(f, self_ty, reply, fallible));
    }
    Parsed::Handler(Handler {
        fail_on_error,
        priority: args.priority,
        when: args.when.take(),
        otherwise: args.otherwise.map(|(o, _)| o),
        route_key,
        variant: Ident::new(&bare.to_upper_camel_case(), sig.ident.span()),
        method: sig.ident.clone(),
        vis: f.vis.clone(),
        docs: f.attrs.iter().filter(|a| is_doc_attr(a)).cloned().collect(),
        is_async: sig.asyncness.is_some(),
        params,
        reply,
        fallible,
    })
}

/// The stand-in ref method of a rejected handler. Its type parameters are kept when its
/// arguments let callers infer them; a reply type that needs another one becomes `()`.
fn stand_in(f: &ImplItemFn, self_ty: &Type, reply: Type, fallible: bool) -> StandIn {
    let sig = &f.sig;
    let args: Vec<Type> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(pt)
                if context_param(&pt.ty).is_none() && reply_param(&pt.ty).is_none() =>
            {
                Some(replace_self(&pt.ty, self_ty))
            }
            _ => None,
        })
        .collect();
    let mut generics = sig.generics.clone();
    let params = std::mem::take(&mut generics.params);
    let mut dropped = Vec::new();
    for param in params {
        match &param {
            GenericParam::Type(t) if !args.iter().any(|a| mentions(a, &t.ident)) => {
                dropped.push(t.ident.clone());
            }
            GenericParam::Const(c) if !args.iter().any(|a| mentions(a, &c.ident)) => {
                dropped.push(c.ident.clone());
            }
            _ => generics.params.push(param),
        }
    }
    if !dropped.is_empty() {
        generics.where_clause = None;
    }
    let reply = if dropped.iter().any(|d| mentions(&reply, d)) {
        syn::parse_quote!(())
    } else {
        reply
    };
    StandIn {
        method: sig.ident.clone(),
        vis: f.vis.clone(),
        generics,
        args,
        reply,
        fallible,
    }
}

/// Whether `ty` names `ident` (as a path segment).
fn mentions(ty: &Type, ident: &Ident) -> bool {
    struct Find<'a>(&'a Ident, bool);
    impl syn::visit::Visit<'_> for Find<'_> {
        fn visit_ident(&mut self, i: &Ident) {
            self.1 |= i == self.0;
        }
    }
    let mut find = Find(ident, false);
    syn::visit::Visit::visit_type(&mut find, ty);
    find.1
}
