//! Predicates on the types the user wrote: what the macros can tell from the syntax alone.
//!
//! The parsers of handlers, hooks and events all ask the same questions (is this the
//! context? a `Result`? something that cannot cross threads?); they live here so that none
//! of those parsers depends on another.

use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{GenericArgument, PathArguments, Type};

/// `Some(mutable)` for `&Context<..>` / `&mut Context<..>` (any path ending in `Context`).
pub(crate) fn context_param(ty: &Type) -> Option<bool> {
    let Type::Reference(r) = ty else { return None };
    let Type::Path(p) = &*r.elem else { return None };
    let last = p.path.segments.last()?;
    (last.ident == "Context").then_some(r.mutability.is_some())
}

/// `T` of a `ReplyTo<T>` parameter (`ReplyTo`, `bactor::ReplyTo`, ...).
pub(crate) fn reply_param(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "ReplyTo" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(t)) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// The two type arguments of `Result<T, E>`, written with both.
pub(crate) fn result_args(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match (a.args.len(), a.args.first(), a.args.last()) {
        (2, Some(GenericArgument::Type(ok)), Some(GenericArgument::Type(err))) => Some((ok, err)),
        _ => None,
    }
}

/// `Result<T, E>` written with two type arguments.
pub(crate) fn is_result(ty: &Type) -> bool {
    result_args(ty).is_some()
}

/// `()`.
pub(crate) fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// A type whose last path segment is `name`, behind a shared reference when `by_ref`.
pub(crate) fn type_ends_with(ty: &Type, by_ref: bool, name: &str) -> bool {
    let ty = match (ty, by_ref) {
        (Type::Reference(r), true) if r.mutability.is_none() => &*r.elem,
        (Type::Reference(_), _) | (_, true) => return false,
        (ty, false) => ty,
    };
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// Why a value of this type cannot be carried in a message or an event, if it cannot:
/// it borrows, or it is `impl Trait`. `what` names the values, `goes` where they go
/// ("handler arguments", "are moved into the message").
pub(crate) fn not_owned(ty: &Type, what: &str, goes: &str) -> Option<String> {
    match ty {
        Type::Reference(r) => match &r.lifetime {
            Some(l) if l.ident == "static" => None,
            _ => Some(format!(
                "{what} {goes} and must own their data; use an owned type (e.g. `String` for `&str`) or a `&'static` reference"
            )),
        },
        Type::ImplTrait(_) => Some(format!(
            "{what} cannot be `impl Trait`: the generated enum needs a concrete type"
        )),
        _ => None,
    }
}

/// The part of `ty` that is certainly not `Send` (an `Rc`, an `rc::Weak`, a raw pointer,
/// a `std` lock guard), with what to use instead. Only what the syntax
/// shows: a user type that is not `Send` is left to rustc.
pub(crate) fn not_send(ty: &Type) -> Option<(&Type, &'static str)> {
    struct Find<'a>(Option<(&'a Type, &'static str)>);
    impl<'a> Visit<'a> for Find<'a> {
        fn visit_type(&mut self, ty: &'a Type) {
            if self.0.is_some() {
                return;
            }
            let found = match ty {
                Type::Ptr(_) => {
                    Some("a raw pointer is not `Send`; send an owned value or an index instead")
                }
                Type::Path(p) if p.qself.is_none() => {
                    let segments: Vec<String> = p
                        .path
                        .segments
                        .iter()
                        .map(|s| s.ident.to_string())
                        .collect();
                    let last = segments.last().map(String::as_str);
                    let in_rc = segments.len() >= 2 && segments[segments.len() - 2] == "rc";
                    match last {
                        Some("Rc") => Some("`Rc` is not `Send`; use `std::sync::Arc`"),
                        Some("Weak") if in_rc => {
                            Some("`rc::Weak` is not `Send`; use `std::sync::Weak`")
                        }
                        Some("MutexGuard" | "RwLockReadGuard" | "RwLockWriteGuard")
                            if !segments.iter().any(|s| s == "tokio") =>
                        {
                            Some(
                                "a `std` lock guard is not `Send`; send the `Arc<Mutex<..>>` and lock it in the handler",
                            )
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            match found {
                Some(why) => self.0 = Some((ty, why)),
                None => syn::visit::visit_type(self, ty),
            }
        }
    }
    let mut find = Find(None);
    find.visit_type(ty);
    find.0
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

/// Whether `ty` mentions `impl Trait` anywhere (it cannot name a message's reply then).
pub(crate) fn has_impl_trait(ty: &Type) -> bool {
    struct Find(bool);
    impl Visit<'_> for Find {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut find = Find(false);
    find.visit_type(ty);
    find.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(s: &str) -> Type {
        syn::parse_str(s).unwrap()
    }

    #[test]
    fn finds_what_is_not_send() {
        for (s, found) in [
            ("Rc<u32>", Some("Rc<u32>")),
            ("Vec<std::rc::Rc<String>>", Some("std::rc::Rc<String>")),
            ("Option<rc::Weak<u8>>", Some("rc::Weak<u8>")),
            ("(u8, *const u8)", Some("*const u8")),
            (
                "std::sync::MutexGuard<'static, u8>",
                Some("std::sync::MutexGuard<'static, u8>"),
            ),
            ("tokio::sync::MutexGuard<'static, u8>", None),
            ("Arc<u32>", None),
            ("sync::Weak<u32>", None),
            ("Weak<u32>", None),
            ("Result<String, Box<dyn Error + Send>>", None),
        ] {
            let t = ty(s);
            let got = not_send(&t).map(|(t, _)| quote::quote!(#t).to_string());
            let want = found.map(|f| {
                let f = ty(f);
                quote::quote!(#f).to_string()
            });
            assert_eq!(got, want, "{s}");
        }
    }

    #[test]
    fn reads_results() {
        assert!(result_args(&ty("Result<(), E>")).is_some_and(|(ok, _)| is_unit(ok)));
        assert!(result_args(&ty("Result<Self, E>")).is_some_and(|(ok, _)| !is_unit(ok)));
        assert!(result_args(&ty("io::Result<()>")).is_none());
    }
}
