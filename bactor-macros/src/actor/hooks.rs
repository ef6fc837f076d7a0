//! Lifecycle hooks: methods of an `#[actor]` impl recognised by name.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{FnArg, ImplItemFn, ReceiverKind, ReturnType};

use crate::ctxt::Ctxt;
use crate::types::{context_param, is_unit, result_args, type_ends_with};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HookKind {
    PreStart,
    PostStop,
    PreRestart,
    PostRestart,
    OnTerminated,
    OnReceiveTimeout,
}

/// A parameter a hook receives besides `&mut self` and the context.
struct Extra {
    name: &'static str,
    /// The last path segment its type must have.
    ty: &'static str,
    by_ref: bool,
}

const REASON: Extra = Extra {
    name: "reason",
    ty: "ActorError",
    by_ref: true,
};
const PID: Extra = Extra {
    name: "pid",
    ty: "Pid",
    by_ref: false,
};
const STOP_REASON: Extra = Extra {
    name: "reason",
    ty: "StopReason",
    by_ref: true,
};

impl HookKind {
    pub(crate) const ALL: [HookKind; 6] = [
        HookKind::PreStart,
        HookKind::PostStop,
        HookKind::PreRestart,
        HookKind::PostRestart,
        HookKind::OnTerminated,
        HookKind::OnReceiveTimeout,
    ];

    pub(crate) fn from_name(name: &str) -> Option<HookKind> {
        HookKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The hook a method's name resembles (a typo, another case, another framework's
    /// name for it), when it is not the hook's own name.
    pub(crate) fn resembled_by(name: &str) -> Option<HookKind> {
        let bare = name.strip_prefix("r#").unwrap_or(name);
        if HookKind::from_name(bare).is_some() {
            return None;
        }
        let folded: String = bare
            .chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        // The names kameo, ractor and Akka give these hooks.
        let other = match folded.as_str() {
            "onstart" | "poststart" | "prestarted" => Some(HookKind::PreStart),
            "onstop" | "poststopped" => Some(HookKind::PostStop),
            "onrestart" => Some(HookKind::PostRestart),
            "onlinkdied" | "onterminate" | "onterminatedchild" => Some(HookKind::OnTerminated),
            "onreceivetimeouts" | "onidle" | "ontimeout" => Some(HookKind::OnReceiveTimeout),
            _ => None,
        };
        other.or_else(|| {
            HookKind::ALL.into_iter().find(|k| {
                let hook: String = k.name().chars().filter(|c| *c != '_').collect();
                folded == hook || edit_distance(bare, k.name()) <= 1
            })
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            HookKind::PreStart => "pre_start",
            HookKind::PostStop => "post_stop",
            HookKind::PreRestart => "pre_restart",
            HookKind::PostRestart => "post_restart",
            HookKind::OnTerminated => "on_terminated",
            HookKind::OnReceiveTimeout => "on_receive_timeout",
        }
    }

    /// Whether the hook may return `Result<(), E>` (an `Err` is a failure of the actor).
    fn may_fail(self) -> bool {
        matches!(
            self,
            HookKind::PreStart
                | HookKind::PostRestart
                | HookKind::OnTerminated
                | HookKind::OnReceiveTimeout
        )
    }

    fn extras(self) -> &'static [Extra] {
        match self {
            HookKind::PreStart | HookKind::PostStop | HookKind::OnReceiveTimeout => &[],
            HookKind::PreRestart | HookKind::PostRestart => &[REASON],
            HookKind::OnTerminated => &[PID, STOP_REASON],
        }
    }

    /// The accepted shape, for error messages.
    fn expected(self) -> String {
        let mut params = String::from("&mut self, ctx: &mut Context<Self>");
        for e in self.extras() {
            let amp = if e.by_ref { "&" } else { "" };
            params.push_str(&format!(", {}: {amp}{}", e.name, e.ty));
        }
        let ret = if self.may_fail() {
            " -> Result<(), ActorError>"
        } else {
            ""
        };
        let optional = match (self.may_fail(), self.extras().is_empty()) {
            (true, true) => "`async`, `ctx` and the `Result` are optional",
            (false, true) => "`async` and `ctx` are optional",
            (true, false) => {
                "`async`, `ctx` and the `Result` are optional; the other parameters are all present or all absent"
            }
            (false, false) => {
                "`async` and `ctx` are optional; the other parameters are all present or all absent"
            }
        };
        format!("`async fn {}({params}){ret}` ({optional})", self.name())
    }
}

enum HookParam {
    Ctx,
    Extra(usize),
}

pub(crate) struct Hook {
    pub(crate) kind: HookKind,
    is_async: bool,
    returns_result: bool,
    params: Vec<HookParam>,
}

/// Checks a hook's signature; `None` (with errors in `cx`) when it is not one.
pub(crate) fn parse_hook(kind: HookKind, f: &ImplItemFn, cx: &mut Ctxt) -> Option<Hook> {
    let sig = &f.sig;
    let name = kind.name();
    let expected = kind.expected();
    let mut ok = true;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &sig.generics,
            format!("lifecycle hook `{name}` cannot be generic; expected {expected}"),
        );
        ok = false;
    }
    match sig.receiver() {
        Some(r) if matches!(r.kind, ReceiverKind::Reference(_, _, Some(_))) => {}
        Some(r) => {
            cx.error_spanned_by(
                r,
                format!("lifecycle hook `{name}` must take `&mut self`; expected {expected}"),
            );
            ok = false;
        }
        None => {
            cx.error_spanned_by(
                &sig.ident,
                format!("lifecycle hook `{name}` must take `&mut self`; expected {expected}"),
            );
            ok = false;
        }
    }
    let extras = kind.extras();
    let mut params = Vec::new();
    let mut takes_ctx = false;
    let mut next_extra = 0;
    for input in sig.inputs.iter().skip(1) {
        let FnArg::Typed(pt) = input else { continue };
        if context_param(&pt.ty) == Some(true) && !takes_ctx {
            takes_ctx = true;
            params.push(HookParam::Ctx);
            continue;
        }
        match extras.get(next_extra) {
            Some(e) if type_ends_with(&pt.ty, e.by_ref, e.ty) => {
                params.push(HookParam::Extra(next_extra));
                next_extra += 1;
            }
            _ => {
                cx.error_spanned_by(
                    input,
                    format!("unexpected parameter in lifecycle hook `{name}`; expected {expected}"),
                );
                ok = false;
            }
        }
    }
    if ok && next_extra != 0 && next_extra != extras.len() {
        cx.error_spanned_by(
            &sig.inputs,
            format!("lifecycle hook `{name}` is missing parameters; expected {expected}"),
        );
        ok = false;
    }
    let returns_result = match &sig.output {
        ReturnType::Default => false,
        ReturnType::Type(_, ty) if is_unit(ty) => false,
        ReturnType::Type(_, ty) if kind.may_fail() => match result_args(ty) {
            Some((ok_ty, _)) if is_unit(ok_ty) => true,
            Some((ok_ty, _)) => {
                cx.error_spanned_by(
                    ok_ty,
                    format!(
                        "lifecycle hook `{name}` returns `Result<(), E>`: an `Err` fails the actor, and an `Ok` carries nothing (the hook changes `self` in place); expected {expected}"
                    ),
                );
                ok = false;
                false
            }
            None => {
                cx.error_spanned_by(
                    ty,
                    format!("wrong return type for lifecycle hook `{name}`; expected {expected}"),
                );
                ok = false;
                false
            }
        },
        ReturnType::Type(_, ty) => {
            cx.error_spanned_by(
                ty,
                format!("wrong return type for lifecycle hook `{name}`; expected {expected}"),
            );
            ok = false;
            false
        }
    };
    ok.then_some(Hook {
        kind,
        is_async: sig.asyncness.is_some(),
        returns_result,
        params,
    })
}

/// The `Actor` trait method forwarding to the user's hook.
pub(crate) fn expand_hook(krate: &syn::Path, hook: &Hook) -> TokenStream {
    let p = quote!(#krate::__private);
    let kind = hook.kind;
    let method = format_ident!("{}", kind.name());
    let extra_names: Vec<_> = kind
        .extras()
        .iter()
        .map(|e| format_ident!("__bactor_{}", e.name))
        .collect();
    let extra_params = kind.extras().iter().zip(&extra_names).map(|(e, n)| {
        let ty = format_ident!("{}", e.ty);
        if e.by_ref {
            quote!(#n: &#p::#ty)
        } else {
            quote!(#n: #p::#ty)
        }
    });
    let uses_ctx = hook.params.iter().any(|p| matches!(p, HookParam::Ctx));
    let ctx_param = if uses_ctx {
        quote!(__bactor_ctx)
    } else {
        quote!(_)
    };
    let args = hook.params.iter().map(|p| match p {
        HookParam::Ctx => quote!(__bactor_ctx),
        HookParam::Extra(i) => {
            let n = &extra_names[*i];
            quote!(#n)
        }
    });
    let mut call = quote!(Self::#method(self, #(#args),*));
    if hook.is_async {
        call = quote!(#call.await);
    }
    // Unused extra parameters (the user's hook takes none) are named `_`-free locals;
    // silence them explicitly.
    let unused = (!hook.params.iter().any(|p| matches!(p, HookParam::Extra(_))))
        .then(|| quote!(#(let _ = #extra_names;)*));
    let (output, body) = if kind.may_fail() {
        let body = if hook.returns_result {
            quote!(#call.map_err(::core::convert::Into::<#p::ActorError>::into))
        } else {
            quote!(#call; ::core::result::Result::Ok(()))
        };
        (quote!(::core::result::Result<(), #p::ActorError>), body)
    } else {
        (quote!(()), quote!(#call;))
    };
    quote! {
        fn #method(
            &mut self,
            #ctx_param: &mut #p::Context<Self>,
            #(#extra_params,)*
        ) -> impl ::core::future::Future<Output = #output> + ::core::marker::Send {
            #unused
            async move { #body }
        }
    }
}

/// Edit distance between two short names, a swap of neighbours counting as one edit
/// (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::HookKind;

    #[test]
    fn recognises_misspelled_hooks() {
        for (name, hook) in [
            ("pre_strat", Some("pre_start")),
            ("prestart", Some("pre_start")),
            ("preStart", Some("pre_start")),
            ("on_start", Some("pre_start")),
            ("post_start", Some("pre_start")),
            ("on_terminate", Some("on_terminated")),
            ("post_stp", Some("post_stop")),
            ("on_stop", Some("post_stop")),
            ("post_restarts", Some("post_restart")),
            ("on_receive_timeouts", Some("on_receive_timeout")),
            ("pre_start", None),
            ("start", None),
            ("restart", None),
            ("stopped", None),
            ("get", None),
            ("poster", None),
            ("pre_stop", None),
        ] {
            assert_eq!(
                HookKind::resembled_by(name).map(HookKind::name),
                hook,
                "{name}"
            );
        }
    }
}
