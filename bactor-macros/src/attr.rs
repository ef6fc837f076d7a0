//! Arguments of `#[actor(...)]` and `#[handler(...)]`.

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, LitInt, Path, Token};

use crate::ctxt::Ctxt;
use crate::symbol;

pub(crate) mod kw {
    syn::custom_keyword!(mailbox);
    syn::custom_keyword!(throughput);
    syn::custom_keyword!(unbounded);
    syn::custom_keyword!(bounded);
    syn::custom_keyword!(reply);
    syn::custom_keyword!(plain);
    syn::custom_keyword!(result);
    syn::custom_keyword!(high);
    syn::custom_keyword!(normal);
    syn::custom_keyword!(low);
    syn::custom_keyword!(stash);
    syn::custom_keyword!(reject);
    syn::custom_keyword!(drop);
}

/// `otherwise = stash | reject | drop`: what happens to a message whose handler does not
/// serve the actor's state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Otherwise {
    Stash,
    Reject,
    Drop,
}

impl Otherwise {
    pub(crate) fn expand(self, krate: &Path) -> TokenStream {
        let variant = match self {
            Otherwise::Stash => quote::format_ident!("Stash"),
            Otherwise::Reject => quote::format_ident!("Reject"),
            Otherwise::Drop => quote::format_ident!("Drop"),
        };
        quote::quote!(#krate::__private::Otherwise::#variant)
    }
}

const OTHERWISE_FORM: &str = "`otherwise` takes `stash`, `reject` or `drop`";

/// The value of an `otherwise = ..` key, with the key's span; `None` (the error recorded,
/// the value skipped) when it is not one of the three.
fn otherwise_value(
    meta: &syn::meta::ParseNestedMeta<'_>,
    cx: &mut Ctxt,
) -> syn::Result<Option<(Otherwise, proc_macro2::Span)>> {
    let span = syn::spanned::Spanned::span(&meta.path);
    let value = meta.value()?;
    match parse_otherwise(value) {
        Ok(o) => Ok(Some((o, span))),
        Err(e) => {
            cx.push(e);
            skip_value_rest(value)?;
            Ok(None)
        }
    }
}

fn parse_otherwise(input: ParseStream<'_>) -> syn::Result<Otherwise> {
    let lookahead = input.lookahead1();
    if lookahead.peek(kw::stash) {
        input.parse::<kw::stash>()?;
        Ok(Otherwise::Stash)
    } else if lookahead.peek(kw::reject) {
        input.parse::<kw::reject>()?;
        Ok(Otherwise::Reject)
    } else if lookahead.peek(kw::drop) {
        input.parse::<kw::drop>()?;
        Ok(Otherwise::Drop)
    } else {
        Err(syn::Error::new(input.span(), OTHERWISE_FORM))
    }
}

/// Where `#[actor]` was put.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Type,
    Impl,
}

#[derive(Clone)]
pub(crate) enum MailboxArg {
    Bounded(LitInt),
    Unbounded,
    /// `mailbox = MyMailbox`: a type implementing `Mailbox`, made with `Default`.
    Type(Box<syn::Type>),
    /// `mailbox = MyMailbox::new(8)`: an expression evaluated at each spawn.
    Expr(Box<syn::Expr>),
}

#[derive(Default)]
pub(crate) struct ActorArgs {
    pub(crate) mailbox: Option<MailboxArg>,
    pub(crate) throughput: Option<LitInt>,
    pub(crate) krate: Option<Path>,
    /// `#[actor(remote)]` / `#[actor(remote = "kind")]` on the impl block: the kind name
    /// (`None` inside: the type's name).
    pub(crate) remote: Option<Option<syn::LitStr>>,
    /// `#[actor(state = field)]`: the field holding the state enum.
    pub(crate) state: Option<syn::Ident>,
    /// `#[actor(otherwise = ..)]`, with the key's span.
    pub(crate) otherwise: Option<(Otherwise, proc_macro2::Span)>,
    /// `#[actor(stash = 100)]`.
    pub(crate) stash: Option<LitInt>,
}

/// Skips the value of an unrecognised key: `= expr`, `(...)` or nothing.
/// Tracks the keys of one attribute, to report a key given twice.
#[derive(Default)]
pub(crate) struct Keys(Vec<String>);

impl Keys {
    /// The key of `meta`, or `None` (after recording the error, with the value skipped) when
    /// it was given before.
    pub(crate) fn first(
        &mut self,
        meta: &syn::meta::ParseNestedMeta<'_>,
        cx: &mut Ctxt,
    ) -> syn::Result<Option<String>> {
        let key = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        if self.0.contains(&key) {
            cx.error_spanned_by(&meta.path, format!("`{key}` specified more than once"));
            skip_value(meta.input)?;
            return Ok(None);
        }
        self.0.push(key.clone());
        Ok(Some(key))
    }
}

/// Skips what is left of a value after `=` (up to the next `,`).
fn skip_value_rest(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

pub(crate) fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        input.parse::<syn::Expr>()?;
    } else if input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn positive(lit: LitInt, what: &str, cx: &mut Ctxt) -> Option<LitInt> {
    match lit.base10_parse::<usize>() {
        Ok(0) => {
            cx.error_spanned_by(&lit, format!("`{what}` must be at least 1"));
            None
        }
        Ok(_) => Some(lit),
        Err(e) => {
            cx.push(e);
            None
        }
    }
}

struct MailboxValue(Option<MailboxArg>);

impl ActorArgs {
    /// Parses `#[actor(...)]`, recording every problem in `cx`.
    pub(crate) fn parse(args: TokenStream, target: Target, cx: &mut Ctxt) -> ActorArgs {
        let mut out = ActorArgs::default();
        let mut keys = Keys::default();
        let parser = syn::meta::parser(|meta| {
            let Some(key) = keys.first(&meta, cx)? else {
                return Ok(());
            };
            match (key.as_str(), target) {
                // #[actor(mailbox = 64)] / #[actor(mailbox = unbounded)]
                ("mailbox", Target::Type) => {
                    let value = meta.value()?;
                    let parsed = parse_mailbox(value, cx)?;
                    out.mailbox = parsed.0;
                }
                // #[actor(throughput = 100)]
                ("throughput", Target::Type) => {
                    let lit: LitInt = meta.value()?.parse()?;
                    out.throughput = positive(lit, "throughput", cx);
                }
                // #[actor(state = field)]
                ("state", Target::Type) => {
                    let value = meta.value()?;
                    match value.parse::<syn::Ident>() {
                        Ok(field) => out.state = Some(field),
                        Err(_) => {
                            cx.error_spanned_by(
                                &meta.path,
                                "`state` takes the name of the field that holds the actor's state, like `state = conn`",
                            );
                            skip_value_rest(value)?;
                        }
                    }
                }
                // #[actor(otherwise = stash | reject | drop)]
                ("otherwise", Target::Type) => {
                    out.otherwise = otherwise_value(&meta, cx)?;
                }
                // #[actor(stash = 100)]
                ("stash", Target::Type) => {
                    let value = meta.value()?;
                    match value.parse::<LitInt>() {
                        Ok(lit) => out.stash = positive(lit, "stash", cx),
                        Err(_) => {
                            cx.error_spanned_by(
                                &meta.path,
                                "`stash` takes the stash's capacity in messages, like `stash = 100`",
                            );
                            skip_value_rest(value)?;
                        }
                    }
                }
                // #[actor(crate = path::to::bactor)]
                ("crate", _) => {
                    out.krate = Some(meta.value()?.call(Path::parse_mod_style)?);
                }
                // #[actor(remote)] / #[actor(remote = "kind")]
                ("remote", Target::Impl) => {
                    if meta.input.peek(Token![=]) {
                        let kind: syn::LitStr = meta.value()?.parse()?;
                        if kind.value().is_empty() || kind.value().starts_with('$') {
                            cx.error_spanned_by(
                                &kind,
                                "a remote kind name must be non-empty and not start with `$`",
                            );
                        }
                        out.remote = Some(Some(kind));
                    } else {
                        out.remote = Some(None);
                    }
                }
                ("remote", Target::Type) => {
                    cx.error_spanned_by(
                        &meta.path,
                        "`remote` belongs on the `#[actor]` of the `impl` block, where the handlers are",
                    );
                    skip_value(meta.input)?;
                }
                ("mailbox" | "throughput" | "state" | "otherwise" | "stash", Target::Impl) => {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "`{key}` belongs on the `#[actor]` of the struct or enum, not of the `impl` block"
                        ),
                    );
                    skip_value(meta.input)?;
                }
                _ => {
                    let valid = match target {
                        Target::Type => symbol::STRUCT_KEYS,
                        Target::Impl => symbol::IMPL_KEYS,
                    };
                    let shown = if key.is_empty() {
                        quote::ToTokens::to_token_stream(&meta.path).to_string()
                    } else {
                        key
                    };
                    cx.error_spanned_by(
                        &meta.path,
                        format!("unknown `#[actor]` argument `{shown}`; expected one of: {valid}"),
                    );
                    skip_value(meta.input)?;
                }
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(args) {
            cx.push(e);
        }
        out
    }
}

fn parse_mailbox(input: ParseStream<'_>, cx: &mut Ctxt) -> syn::Result<MailboxValue> {
    if input.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        return Ok(MailboxValue(
            positive(lit, "mailbox", cx).map(MailboxArg::Bounded),
        ));
    }
    if input.peek(kw::unbounded) && ends_value(&input.fork(), |v| v.parse::<kw::unbounded>()) {
        input.parse::<kw::unbounded>()?;
        return Ok(MailboxValue(Some(MailboxArg::Unbounded)));
    }
    if input.peek(kw::bounded) && input.peek2(syn::token::Paren) {
        input.parse::<kw::bounded>()?;
        let content;
        syn::parenthesized!(content in input);
        let lit: LitInt = content.parse()?;
        return Ok(MailboxValue(
            positive(lit, "mailbox", cx).map(MailboxArg::Bounded),
        ));
    }
    if input.peek(syn::Lit) {
        return Err(input.error(MAILBOX_FORMS));
    }
    // A type alone (`MyMailbox`, `Newest<ChatMsg>`), or else an expression.
    if ends_value(&input.fork(), |v| v.parse::<syn::Type>()) {
        let ty: syn::Type = input.parse()?;
        return Ok(MailboxValue(Some(MailboxArg::Type(Box::new(ty)))));
    }
    match input.parse::<syn::Expr>() {
        Ok(expr) => Ok(MailboxValue(Some(MailboxArg::Expr(Box::new(expr))))),
        Err(e) => Err(syn::Error::new(e.span(), MAILBOX_FORMS)),
    }
}

const MAILBOX_FORMS: &str = "expected `mailbox = 64`, `mailbox = bounded(64)`, `mailbox = unbounded`, `mailbox = MyMailbox` (a type implementing `bactor::Mailbox`, made with `Default`) or `mailbox = MyMailbox::new(..)` (an expression)";

/// Whether `parse` takes the whole value: up to the next `,` or the end.
fn ends_value<T>(
    fork: ParseStream<'_>,
    parse: impl FnOnce(ParseStream<'_>) -> syn::Result<T>,
) -> bool {
    parse(fork).is_ok() && (fork.is_empty() || fork.peek(Token![,]))
}

/// How a handler's return value reaches the asker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ReplyKind {
    /// Decide from the return type: `Result<T, E>` is fallible.
    Auto,
    Plain,
    Result,
}

pub(crate) struct HandlerArgs {
    pub(crate) reply: ReplyKind,
    /// `#[handler(fail_on_error)]`: an `Err` is a failure of the actor.
    pub(crate) fail_on_error: Option<proc_macro2::Span>,
    /// `#[handler(priority = high | normal | low)]`: the level of its messages, by the
    /// name of the `Priority` variant.
    pub(crate) priority: Option<&'static str>,
    /// `#[handler(when = Open | Ajar(..))]`: the state variants the handler serves.
    pub(crate) when: Option<When>,
    /// `#[handler(otherwise = ..)]`, with the key's span.
    pub(crate) otherwise: Option<(Otherwise, proc_macro2::Span)>,
    /// `#[handler(route_key = arg)]`: the argument consistent-hash routers hash.
    pub(crate) route_key: Option<syn::Ident>,
}

/// The variants named by `when`: `Open` (unit), `Ajar(..)` (tuple), `Closed { .. }`
/// (struct), each kept with the user's tokens for the generated pattern.
pub(crate) struct When {
    pub(crate) key: proc_macro2::Span,
    pub(crate) variants: Vec<WhenVariant>,
}

pub(crate) struct WhenVariant {
    pub(crate) ident: syn::Ident,
    pub(crate) shape: VariantShape,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VariantShape {
    Unit,
    Tuple,
    Struct,
}

const WHEN_FORM: &str = "`when` takes the state's variants, like `when = Open | Ajar(..) | Closed { .. }` (a name, then `(..)` for a tuple variant or `{ .. }` for a struct variant)";

fn parse_when(input: ParseStream<'_>, key: proc_macro2::Span, cx: &mut Ctxt) -> syn::Result<When> {
    let pat = syn::Pat::parse_multi(input)?;
    let alternatives: Vec<syn::Pat> = match pat {
        syn::Pat::Or(or) => or.cases.into_iter().collect(),
        other => vec![other],
    };
    let mut variants = Vec::new();
    for alt in alternatives {
        match when_variant(&alt) {
            Some(v) => variants.push(v),
            None => cx.error_spanned_by(&alt, WHEN_FORM),
        }
    }
    Ok(When { key, variants })
}

fn single_ident(path: &syn::Path) -> Option<syn::Ident> {
    (path.leading_colon.is_none()
        && path.segments.len() == 1
        && path.segments[0].arguments.is_none())
    .then(|| path.segments[0].ident.clone())
}

fn when_variant(pat: &syn::Pat) -> Option<WhenVariant> {
    let (ident, shape) = match pat {
        syn::Pat::Ident(p)
            if p.by_ref.is_none() && p.mutability.is_none() && p.subpat.is_none() =>
        {
            (p.ident.clone(), VariantShape::Unit)
        }
        syn::Pat::Path(p) if p.qself.is_none() => (single_ident(&p.path)?, VariantShape::Unit),
        syn::Pat::TupleStruct(p)
            if p.qself.is_none()
                && p.elems.len() == 1
                && matches!(p.elems[0], syn::Pat::Rest(_)) =>
        {
            (single_ident(&p.path)?, VariantShape::Tuple)
        }
        syn::Pat::Struct(p) if p.qself.is_none() && p.fields.is_empty() && p.rest.is_some() => {
            (single_ident(&p.path)?, VariantShape::Struct)
        }
        _ => return None,
    };
    Some(WhenVariant { ident, shape })
}

impl HandlerArgs {
    /// Parses the arguments of one `#[handler]` / `#[handler(...)]` attribute.
    pub(crate) fn parse(attr: &Attribute, cx: &mut Ctxt) -> HandlerArgs {
        let mut out = HandlerArgs {
            reply: ReplyKind::Auto,
            fail_on_error: None,
            priority: None,
            when: None,
            otherwise: None,
            route_key: None,
        };
        if let syn::Meta::Path(_) = attr.meta {
            return out;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta {
            cx.error_spanned_by(
                nv,
                "expected `#[handler]` or `#[handler(reply = plain | result, fail_on_error, priority = high | normal | low, when = State, otherwise = stash | reject | drop)]`",
            );
            return out;
        }
        let mut seen_reply = false;
        let result = attr.parse_nested_meta(|meta| {
            // #[handler(reply = plain)] / #[handler(reply = result)]
            if meta.path.is_ident("reply") {
                if seen_reply {
                    cx.error_spanned_by(&meta.path, "`reply` specified more than once");
                    return skip_value(meta.input);
                }
                seen_reply = true;
                let value = meta.value()?;
                let lookahead = value.lookahead1();
                if lookahead.peek(kw::plain) {
                    value.parse::<kw::plain>()?;
                    out.reply = ReplyKind::Plain;
                } else if lookahead.peek(kw::result) {
                    value.parse::<kw::result>()?;
                    out.reply = ReplyKind::Result;
                } else {
                    return Err(lookahead.error());
                }
                Ok(())
            } else if meta.path.is_ident("priority") {
                // #[handler(priority = high | normal | low)]
                let value = meta.value()?;
                let lookahead = value.lookahead1();
                out.priority = Some(if lookahead.peek(kw::high) {
                    value.parse::<kw::high>()?;
                    "High"
                } else if lookahead.peek(kw::normal) {
                    value.parse::<kw::normal>()?;
                    "Normal"
                } else if lookahead.peek(kw::low) {
                    value.parse::<kw::low>()?;
                    "Low"
                } else {
                    return Err(value.error(
                        "expected `priority = high`, `priority = normal` or `priority = low`",
                    ));
                });
                Ok(())
            } else if meta.path.is_ident("when") {
                // #[handler(when = Open | Ajar(..))]
                let key = syn::spanned::Spanned::span(&meta.path);
                if out.when.is_some() {
                    cx.error_spanned_by(
                        &meta.path,
                        "`when` specified more than once; list the states in one `when = A | B`",
                    );
                    return skip_value(meta.input);
                }
                let value = meta.value()?;
                match parse_when(value, key, cx) {
                    Ok(when) => out.when = Some(when),
                    Err(_) => {
                        cx.error_spanned_by(&meta.path, WHEN_FORM);
                        skip_value_rest(value)?;
                    }
                }
                Ok(())
            } else if meta.path.is_ident("route_key") {
                // #[handler(route_key = arg)]
                if out.route_key.is_some() {
                    cx.error_spanned_by(&meta.path, "`route_key` specified more than once");
                    return skip_value(meta.input);
                }
                let value = meta.value()?;
                match value.parse::<syn::Ident>() {
                    Ok(arg) => out.route_key = Some(arg),
                    Err(_) => {
                        cx.error_spanned_by(
                            &meta.path,
                            "`route_key` takes the name of one of the handler's arguments, like `route_key = user_id`",
                        );
                        skip_value_rest(value)?;
                    }
                }
                Ok(())
            } else if meta.path.is_ident("otherwise") {
                // #[handler(otherwise = stash | reject | drop)]
                if out.otherwise.is_some() {
                    cx.error_spanned_by(&meta.path, "`otherwise` specified more than once");
                    return skip_value(meta.input);
                }
                out.otherwise = otherwise_value(&meta, cx)?;
                Ok(())
            } else if meta.path.is_ident("fail_on_error") {
                // #[handler(fail_on_error)]
                if out.fail_on_error.is_some() {
                    cx.error_spanned_by(&meta.path, "`fail_on_error` specified more than once");
                }
                out.fail_on_error = Some(syn::spanned::Spanned::span(&meta.path));
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    cx.error_spanned_by(&meta.path, "`fail_on_error` takes no value");
                    skip_value(meta.input)?;
                }
                Ok(())
            } else {
                let shown = quote::ToTokens::to_token_stream(&meta.path).to_string();
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown `#[handler]` argument `{shown}`; expected one of: {}",
                        symbol::HANDLER_KEYS
                    ),
                );
                skip_value(meta.input)
            }
        });
        if let Err(e) = result {
            cx.push(e);
        }
        out
    }
}

/// `true` for `#[handler]`, `#[handler(..)]` and `#[bactor::handler]`.
pub(crate) fn is_handler_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == symbol::HANDLER)
}

/// `true` for `///` docs and `#[doc = ..]`.
pub(crate) fn is_doc_attr(attr: &Attribute) -> bool {
    attr.path().is_ident("doc")
}
