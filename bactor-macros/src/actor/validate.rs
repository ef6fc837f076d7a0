//! Rules that involve more than one method of an `#[actor]` impl block.
//!
//! Each broken rule is reported once, on the later of the two methods, and that method is
//! left out of what is generated, so rustc adds no error of its own about the generated
//! code (it may still report the user's own duplicate methods).

use super::model::ActorImpl;
use crate::ctxt::Ctxt;

pub(crate) fn validate(model: &mut ActorImpl<'_>, cx: &mut Ctxt) {
    let mut i = 0;
    while i < model.events.len() {
        let e = &model.events[i];
        if let Some(prev) = model.events[..i].iter().find(|p| p.variant == e.variant) {
            let msg = if prev.method == e.method {
                format!(
                    "two `#[event]` methods are named `{}`; rename one",
                    e.method
                )
            } else {
                format!(
                    "events `{}` and `{}` both map to the variant `{}`; rename one",
                    prev.method, e.method, e.variant
                )
            };
            cx.error_spanned_by(&e.method, msg);
            model.events.remove(i);
        } else {
            i += 1;
        }
    }
    let mut i = 0;
    while i < model.handlers.len() {
        let h = &model.handlers[i];
        if let Some(prev) = model.handlers[..i].iter().find(|p| p.variant == h.variant) {
            let msg = if prev.method == h.method {
                format!("two handlers are named `{}`; rename one", h.method)
            } else {
                format!(
                    "handlers `{}` and `{}` both map to the message variant `{}`; rename one",
                    prev.method, h.method, h.variant
                )
            };
            cx.error_spanned_by(&h.method, msg);
            model.handlers.remove(i);
        } else {
            i += 1;
        }
    }
    // A rejected handler named like another one keeps no ref method of its own.
    let mut seen: Vec<syn::Ident> = model.handlers.iter().map(|h| h.method.clone()).collect();
    model.stand_ins.retain(|s| {
        let first = !seen.contains(&s.method);
        seen.push(s.method.clone());
        first
    });
}
