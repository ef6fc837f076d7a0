//! The path of the runtime crate in generated code.

use proc_macro2::Span;
use syn::Path;

/// `::bactor`, or the path given with `#[actor(crate = ...)]`.
pub(crate) fn runtime(krate: Option<&Path>) -> Path {
    match krate {
        Some(path) => path.clone(),
        None => {
            let mut path: Path = syn::parse_quote!(::bactor);
            if let Some(seg) = path.segments.first_mut() {
                seg.ident.set_span(Span::call_site());
            }
            path
        }
    }
}
