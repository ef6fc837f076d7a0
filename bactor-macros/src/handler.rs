//! `#[handler]` used on its own, outside an `#[actor]` impl block.
//!
//! Inside an `#[actor]` impl the outer macro reads and removes every `#[handler]`, so this
//! macro only ever runs when one is misplaced.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn standalone(_args: TokenStream, input: TokenStream) -> TokenStream {
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        "`#[handler]` must be used on a method inside an `#[actor]` impl block",
    )
    .to_compile_error();
    quote!(#input #err)
}
