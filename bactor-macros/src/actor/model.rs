//! The typed model of an `#[actor]` impl block: its handlers and lifecycle hooks.

use heck::ToUpperCamelCase;
use proc_macro2::Span;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, FnArg, GenericParam, Ident, ImplItem, ImplItemFn, ItemImpl, Pat, PathArguments,
    ReceiverKind, ReturnType, Type, Visibility,
};

use super::hooks::{Hook, HookKind, parse_hook};
use crate::attr::{
    ActorArgs, HandlerArgs, Otherwise, ReplyKind, When, is_doc_attr, is_handler_attr,
};
use crate::ctxt::Ctxt;
use crate::paths;
use crate::persistent::{EventDef, is_event_attr, parse_event};
use crate::symbol;

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
                    "actors must be `'static`: lifetime parameters are not supported",
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
        model.validate(cx);
        Some(model)
    }

    fn add_fn(&mut self, f: &ImplItemFn, cx: &mut Ctxt) {
        let handler_attrs: Vec<&Attribute> =
            f.attrs.iter().filter(|a| is_handler_attr(a)).collect();
        if let Some(event_attr) = f.attrs.iter().find(|a| is_event_attr(a)) {
            if let Some(h) = handler_attrs.first() {
                cx.error_spanned_by(
                    h,
                    "a method is either a `#[handler]` or an `#[event]`, not both",
                );
            }
            if HookKind::from_name(&f.sig.ident.to_string()).is_some() {
                cx.error_spanned_by(&f.sig.ident, "a lifecycle hook cannot be an `#[event]`");
            }
            if !self.item.generics.params.is_empty() {
                cx.error_spanned_by(
                    event_attr,
                    "persistent actors cannot be generic yet: the event enum needs concrete types",
                );
            }
            if let Some(e) = parse_event(f, event_attr, cx) {
                self.events.push(e);
            }
            return;
        }
        let name = f.sig.ident.to_string();
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
            return;
        };
        for extra in &handler_attrs[1..] {
            cx.error_spanned_by(
                extra,
                "`#[handler]` specified more than once on this method",
            );
        }
        let mut args = HandlerArgs::parse(first, cx);
        if let (Some((_, span)), None) = (args.otherwise, &args.when) {
            cx.error_spanned_by(
                &quote::quote_spanned!(span=> otherwise),
                "`otherwise` says what happens to this handler's messages in the states it does not serve; add `when = ..` to name the states it serves",
            );
        }
        if let Some(h) = parse_handler(f, &mut args, self.self_ty, cx) {
            self.handlers.push(h);
        }
    }

    /// Rules that involve more than one handler.
    fn validate(&self, cx: &mut Ctxt) {
        for (i, e) in self.events.iter().enumerate() {
            if let Some(prev) = self.events[..i].iter().find(|p| p.variant == e.variant) {
                cx.error_spanned_by(
                    &e.method,
                    format!(
                        "events `{}` and `{}` both map to the variant `{}`; rename one",
                        prev.method, e.method, e.variant
                    ),
                );
            }
        }
        for (i, h) in self.handlers.iter().enumerate() {
            if let Some(prev) = self.handlers[..i].iter().find(|p| p.variant == h.variant) {
                let msg = if prev.method == h.method {
                    format!("two handlers are named `{}`", h.method)
                } else {
                    format!(
                        "handlers `{}` and `{}` both map to the message variant `{}`; rename one",
                        prev.method, h.method, h.variant
                    )
                };
                cx.error_spanned_by(&h.method, msg);
            }
        }
    }
}

fn reject_handler_attr(attrs: &[Attribute], cx: &mut Ctxt) {
    for attr in attrs.iter().filter(|a| is_handler_attr(a)) {
        cx.error_spanned_by(attr, "`#[handler]` goes on methods (`fn`) only");
    }
}

/// `&mut Context<..>` (any path ending in `Context`).
/// `T` of a `ReplyTo<T>` parameter (`ReplyTo`, `bactor::ReplyTo`, ...).
fn reply_param(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "ReplyTo" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(t)) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

pub(crate) fn context_param(ty: &Type) -> Option<bool> {
    let Type::Reference(r) = ty else { return None };
    let Type::Path(p) = &*r.elem else { return None };
    let last = p.path.segments.last()?;
    (last.ident == "Context").then_some(r.mutability.is_some())
}

fn parse_handler(
    f: &ImplItemFn,
    args: &mut HandlerArgs,
    self_ty: &Type,
    cx: &mut Ctxt,
) -> Option<Handler> {
    let sig = &f.sig;
    let mut ok = true;
    let mut fail = |cx: &mut Ctxt, tokens: &dyn quote::ToTokens, msg: String| {
        ok = false;
        cx.error_spanned_by(tokens, msg);
    };

    if let syn::Safety::Unsafe(t) = &sig.safety {
        fail(cx, t, "`#[handler]` methods cannot be `unsafe`".into());
    }
    if let Some(abi) = &sig.abi {
        fail(
            cx,
            abi,
            "`#[handler]` methods cannot have an `extern` ABI".into(),
        );
    }
    if let Some(c) = &sig.constness {
        fail(cx, c, "`#[handler]` methods cannot be `const`".into());
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
    if symbol::RESERVED_REF_METHODS.contains(&bare) {
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
                        "only one `&mut Context<Self>` parameter is allowed".into(),
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
                    "only one `ReplyTo<..>` parameter is allowed: it is the one reply of this handler".into(),
                );
            }
            deferred = Some(replace_self(t, self_ty));
            params.push(Param::Reply);
            continue;
        }
        if let Some(msg) = unsupported_arg_type(&pt.ty) {
            fail(cx, &pt.ty, msg);
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
            if !matches!(&**ty, Type::Tuple(u) if u.elems.is_empty()) {
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
            if let Type::ImplTrait(_) = &**ty {
                fail(
                    cx,
                    ty,
                    "`#[handler]` methods cannot return `impl Trait`: the reply travels to the asker and needs a concrete type".into(),
                );
            }
            replace_self(ty, self_ty)
        }
    };
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
                    fail(
                        cx,
                        &key,
                        format!("`route_key`: no argument named `{bare}`; {hint}"),
                    );
                    None
                }
            }
        }
    };

    if let Some(span) = args.fail_on_error
        && params.iter().any(|p| matches!(p, Param::Reply))
    {
        fail(
            cx,
            &quote::quote_spanned!(span=> fail_on_error),
            "`fail_on_error` acts on the value a handler returns; a handler that answers through its `ReplyTo<..>` returns none: fail the actor with `ctx.fail_after_handler(..)` instead".into(),
        );
    } else if let Some(span) = args.fail_on_error
        && !fallible
    {
        fail(
            cx,
            &quote::quote_spanned!(span=> fail_on_error),
            "`fail_on_error` needs a handler returning `Result<T, E>` (or `#[handler(reply = result)]`)".into(),
        );
    }
    if !ok {
        return None;
    }
    Some(Handler {
        fail_on_error: args.fail_on_error.is_some(),
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

/// Why an argument type cannot travel in a message, if it cannot.
fn unsupported_arg_type(ty: &Type) -> Option<String> {
    match ty {
        Type::Reference(r) => match &r.lifetime {
            Some(l) if l.ident == "static" => None,
            _ => Some(
                "handler arguments are moved into the message and must own their data; use an owned type (e.g. `String` for `&str`) or a `&'static` reference".into(),
            ),
        },
        Type::ImplTrait(_) => Some(
            "handler arguments cannot be `impl Trait`: the message enum needs a concrete type".into(),
        ),
        _ => None,
    }
}

/// `Result<T, E>` written with two type arguments.
pub(crate) fn is_result(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let Some(last) = p.path.segments.last() else {
        return false;
    };
    if last.ident != "Result" {
        return false;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(a) => {
            a.args.len() == 2
                && a.args
                    .iter()
                    .all(|g| matches!(g, syn::GenericArgument::Type(_)))
        }
        _ => false,
    }
}

/// Replaces `Self` in a type that will be used outside the actor's impl block.
pub(crate) fn replace_self(ty: &Type, self_ty: &Type) -> Type {
    struct Replace<'a>(&'a Type);
    impl VisitMut for Replace<'_> {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::Path(p) = ty
                && p.qself.is_none()
                && p.path.is_ident("Self")
            {
                *ty = self.0.clone();
                return;
            }
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
    let mut ty = ty.clone();
    Replace(self_ty).visit_type_mut(&mut ty);
    ty
}
