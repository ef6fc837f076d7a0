//! Parsing attribute arguments: `#[actor(...)]` and `#[handler(...)]` here, and the
//! helpers every attribute parser shares (`Keys`, `value`, `int`, `choice`), so that each
//! key is checked once, and a value that does not parse is reported as "`key` takes ..."
//! on the value, never as a bare parser message.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, LitInt, Path, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{self, key};

/// Tracks the keys of one attribute: reports a key the attribute does not know, or one
/// given twice, and hands out the others as the constants of `symbol::key`.
pub(crate) struct Keys {
    attr: &'static str,
    known: &'static [&'static str],
    seen: Vec<&'static str>,
}

impl Keys {
    /// The keys `known` of `attr` (the attribute as the user sees it: "`#[actor]`").
    pub(crate) fn new(attr: &'static str, known: &'static [&'static str]) -> Keys {
        Keys {
            attr,
            known,
            seen: Vec::new(),
        }
    }

    /// The key of `meta`, or `None` (after recording the error, with the value skipped)
    /// when the attribute has no such key or it was given before.
    pub(crate) fn first(
        &mut self,
        meta: &ParseNestedMeta<'_>,
        cx: &mut Ctxt,
    ) -> syn::Result<Option<&'static str>> {
        let Some(key) = meta
            .path
            .get_ident()
            .and_then(|i| self.known.iter().copied().find(|k| i == k))
        else {
            let shown = quote::ToTokens::to_token_stream(&meta.path).to_string();
            let expected: Vec<String> = self.known.iter().map(|k| format!("`{k}`")).collect();
            cx.error_spanned_by(
                &meta.path,
                format!(
                    "unknown {} argument `{shown}`; expected one of: {}",
                    self.attr,
                    expected.join(", ")
                ),
            );
            skip_value(meta.input)?;
            return Ok(None);
        };
        if self.seen.contains(&key) {
            cx.error_spanned_by(
                &meta.path,
                format!("`{key}` specified more than once; keep one"),
            );
            skip_value(meta.input)?;
            return Ok(None);
        }
        self.seen.push(key);
        Ok(Some(key))
    }
}

/// Skips the value of a key: `= ..` up to the next `,`, `(...)`, or nothing.
pub(crate) fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        take_value(input)?;
    } else if input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// The tokens of a value, up to the next `,` (or the end).
fn take_value(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    while !input.is_empty() && !input.peek(Token![,]) {
        tokens.extend(std::iter::once(input.parse::<proc_macro2::TokenTree>()?));
    }
    Ok(tokens)
}

/// The value of `key = ..`, parsed whole by `parse`. A missing or malformed value is
/// recorded as "`key` takes {form}" on the value (on the key when there is none), and
/// gives `None`.
pub(crate) fn value<T>(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    form: &str,
    cx: &mut Ctxt,
    parse: impl FnOnce(ParseStream<'_>) -> syn::Result<T>,
) -> syn::Result<Option<T>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(&meta.path, format!("`{key}` takes a value: {form}"));
        skip_value(meta.input)?;
        return Ok(None);
    }
    let tokens = take_value(meta.value()?)?;
    if tokens.is_empty() {
        cx.error_spanned_by(&meta.path, format!("`{key}` takes {form}"));
        return Ok(None);
    }
    match parse.parse2(tokens.clone()) {
        Ok(v) => Ok(Some(v)),
        Err(_) => {
            cx.error_spanned_by(&tokens, format!("`{key}` takes {form}"));
            Ok(None)
        }
    }
}

/// A whole number of at least `min`, as `key = 10`.
pub(crate) fn int<N>(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    form: &str,
    min: N,
    cx: &mut Ctxt,
) -> syn::Result<Option<(LitInt, N)>>
where
    N: std::str::FromStr + PartialOrd + std::fmt::Display,
    N::Err: std::fmt::Display,
{
    let Some(lit) = value(meta, key, form, cx, |v| v.parse::<LitInt>())? else {
        return Ok(None);
    };
    match lit.base10_parse::<N>() {
        Ok(n) if n < min => {
            cx.error_spanned_by(&lit, format!("`{key}` must be at least {min}"));
            Ok(None)
        }
        Ok(n) => Ok(Some((lit, n))),
        Err(_) => {
            cx.error_spanned_by(&lit, format!("`{key}` takes {form}"));
            Ok(None)
        }
    }
}

/// One of a few words, as `key = word`: the value paired with the word.
pub(crate) fn choice<T: Copy>(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    options: &[(&str, T)],
    cx: &mut Ctxt,
) -> syn::Result<Option<T>> {
    let words: Vec<String> = options.iter().map(|(w, _)| format!("`{w}`")).collect();
    let form = match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => words.join(""),
    };
    let Some(ident) = value(meta, key, &form, cx, |v| v.parse::<syn::Ident>())? else {
        return Ok(None);
    };
    match options.iter().find(|(w, _)| ident == w) {
        Some((_, v)) => Ok(Some(*v)),
        None => {
            cx.error_spanned_by(&ident, format!("`{key}` takes {form}"));
            Ok(None)
        }
    }
}

/// A path, as `key = path::to::item`.
pub(crate) fn path(
    meta: &ParseNestedMeta<'_>,
    key: &str,
    form: &str,
    cx: &mut Ctxt,
) -> syn::Result<Option<Path>> {
    value(meta, key, form, cx, Path::parse_mod_style)
}

/// A key that takes no value (`fail_on_error`).
pub(crate) fn flag(meta: &ParseNestedMeta<'_>, key: &str, cx: &mut Ctxt) -> syn::Result<Span> {
    let span = syn::spanned::Spanned::span(&meta.path);
    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{key}` takes no value; write `{key}` alone"),
        );
        skip_value(meta.input)?;
    }
    Ok(span)
}

/// `otherwise = stash | reject | drop`: what happens to a message whose handler does not
/// serve the actor's state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Otherwise {
    Stash,
    Reject,
    Drop,
}

const OTHERWISE: &[(&str, Otherwise)] = &[
    ("stash", Otherwise::Stash),
    ("reject", Otherwise::Reject),
    ("drop", Otherwise::Drop),
];

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
    pub(crate) otherwise: Option<(Otherwise, Span)>,
    /// `#[actor(stash = 100)]`.
    pub(crate) stash: Option<LitInt>,
}

const MAILBOX_FORMS: &str = "a capacity or a mailbox: `mailbox = 64`, `mailbox = bounded(64)`, `mailbox = unbounded`, `mailbox = MyMailbox` (a type implementing `bactor::Mailbox`, made with `Default`) or `mailbox = MyMailbox::new(..)` (an expression)";

impl ActorArgs {
    /// Parses `#[actor(...)]`, recording every problem in `cx`.
    pub(crate) fn parse(args: TokenStream, target: Target, cx: &mut Ctxt) -> ActorArgs {
        let mut out = ActorArgs::default();
        let (known, elsewhere) = match target {
            Target::Type => (symbol::ACTOR_TYPE_KEYS, symbol::ACTOR_IMPL_KEYS),
            Target::Impl => (symbol::ACTOR_IMPL_KEYS, symbol::ACTOR_TYPE_KEYS),
        };
        let mut keys = Keys::new("`#[actor]`", known);
        let parser = syn::meta::parser(|meta| {
            if let Some(misplaced) = elsewhere
                .iter()
                .find(|k| meta.path.is_ident(k) && !known.contains(k))
            {
                let place = match target {
                    Target::Type => {
                        "the `#[actor]` of the `impl` block, where the handlers are, not of the struct"
                    }
                    Target::Impl => "the `#[actor]` of the struct or enum, not of the `impl` block",
                };
                cx.error_spanned_by(&meta.path, format!("`{misplaced}` belongs on {place}"));
                return skip_value(meta.input);
            }
            let Some(k) = keys.first(&meta, cx)? else {
                return Ok(());
            };
            match k {
                key::MAILBOX => {
                    out.mailbox = value(&meta, k, MAILBOX_FORMS, cx, parse_mailbox)?.flatten();
                    if let Some(MailboxArg::Bounded(lit)) = &out.mailbox
                        && lit.base10_parse::<usize>().is_ok_and(|n| n == 0)
                    {
                        cx.error_spanned_by(lit, "`mailbox` must be at least 1");
                        out.mailbox = None;
                    }
                }
                key::THROUGHPUT => {
                    let form = "the number of messages handled before yielding, at least 1, like `throughput = 100`";
                    out.throughput = int::<usize>(&meta, k, form, 1, cx)?.map(|(lit, _)| lit);
                }
                key::STATE => {
                    let form =
                        "the name of the field that holds the actor's state, like `state = conn`";
                    out.state = value(&meta, k, form, cx, |v| v.parse::<syn::Ident>())?;
                }
                key::OTHERWISE => {
                    let span = syn::spanned::Spanned::span(&meta.path);
                    out.otherwise = choice(&meta, k, OTHERWISE, cx)?.map(|o| (o, span));
                }
                key::STASH => {
                    let form = "the stash's capacity in messages, at least 1, like `stash = 100`";
                    out.stash = int::<usize>(&meta, k, form, 1, cx)?.map(|(lit, _)| lit);
                }
                key::CRATE => {
                    let form = "the path of the bactor crate, like `crate = ::my_crate::bactor`";
                    out.krate = path(&meta, k, form, cx)?;
                }
                key::REMOTE => {
                    out.remote = Some(None);
                    if meta.input.peek(Token![=]) {
                        let form = "the actor's kind name, a string, like `remote = \"counter\"` (or `remote` alone for the type's name)";
                        let kind = value(&meta, k, form, cx, |v| v.parse::<syn::LitStr>())?;
                        if let Some(kind) = &kind
                            && (kind.value().is_empty() || kind.value().starts_with('$'))
                        {
                            cx.error_spanned_by(
                                kind,
                                "a remote kind name must be non-empty and not start with `$`",
                            );
                        }
                        out.remote = Some(kind);
                    }
                }
                _ => skip_value(meta.input)?,
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(args) {
            cx.push(e);
        }
        out
    }
}

/// The value of `mailbox = ..`: `None` inside for a capacity of zero (reported by the
/// caller, on the number).
fn parse_mailbox(input: ParseStream<'_>) -> syn::Result<Option<MailboxArg>> {
    if input.peek(LitInt) {
        return Ok(Some(MailboxArg::Bounded(input.parse()?)));
    }
    if input.peek(syn::Ident) && input.fork().parse::<syn::Ident>()? == "unbounded" {
        let fork = input.fork();
        fork.parse::<syn::Ident>()?;
        if fork.is_empty() {
            input.parse::<syn::Ident>()?;
            return Ok(Some(MailboxArg::Unbounded));
        }
    }
    if input.peek(syn::Ident) && input.peek2(syn::token::Paren) {
        let fork = input.fork();
        if fork.parse::<syn::Ident>()? == "bounded" {
            input.parse::<syn::Ident>()?;
            let content;
            syn::parenthesized!(content in input);
            return Ok(Some(MailboxArg::Bounded(content.parse()?)));
        }
    }
    if input.peek(syn::Lit) {
        return Err(input.error(MAILBOX_FORMS));
    }
    // A type alone (`MyMailbox`, `Newest<ChatMsg>`), or else an expression.
    let fork = input.fork();
    if fork.parse::<syn::Type>().is_ok() && fork.is_empty() {
        return Ok(Some(MailboxArg::Type(Box::new(input.parse()?))));
    }
    Ok(Some(MailboxArg::Expr(Box::new(input.parse()?))))
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
    pub(crate) fail_on_error: Option<Span>,
    /// `#[handler(priority = high | normal | low)]`: the level of its messages, by the
    /// name of the `Priority` variant.
    pub(crate) priority: Option<&'static str>,
    /// `#[handler(when = Open | Ajar(..))]`: the state variants the handler serves.
    pub(crate) when: Option<When>,
    /// `#[handler(otherwise = ..)]`, with the key's span.
    pub(crate) otherwise: Option<(Otherwise, Span)>,
    /// `#[handler(route_key = arg)]`: the argument consistent-hash routers hash.
    pub(crate) route_key: Option<syn::Ident>,
}

/// The variants named by `when`: `Open` (unit), `Ajar(..)` (tuple), `Closed { .. }`
/// (struct), each kept with the user's tokens for the generated pattern.
pub(crate) struct When {
    pub(crate) key: Span,
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

const WHEN_FORM: &str = "the state's variants, like `when = Open | Ajar(..) | Closed { .. }` (a name, then `(..)` for a tuple variant or `{ .. }` for a struct variant)";

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

/// `when = A | B(..)`: each alternative that is not a variant name is reported on itself.
fn when_value(meta: &ParseNestedMeta<'_>, cx: &mut Ctxt) -> syn::Result<Option<When>> {
    let key = syn::spanned::Spanned::span(&meta.path);
    let Some(pat) = value(meta, key::WHEN, WHEN_FORM, cx, syn::Pat::parse_multi)? else {
        return Ok(None);
    };
    let alternatives: Vec<syn::Pat> = match pat {
        syn::Pat::Or(or) => or.cases.into_iter().collect(),
        other => vec![other],
    };
    let mut variants = Vec::new();
    for alt in alternatives {
        match when_variant(&alt) {
            Some(v) => variants.push(v),
            None => cx.error_spanned_by(&alt, format!("`when` takes {WHEN_FORM}")),
        }
    }
    Ok(Some(When { key, variants }))
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
                "expected `#[handler]` or `#[handler(key = value, ..)]` with keys `reply`, `fail_on_error`, `priority`, `when`, `otherwise`, `route_key`",
            );
            return out;
        }
        let mut keys = Keys::new("`#[handler]`", symbol::HANDLER_KEYS);
        let result = attr.parse_nested_meta(|meta| {
            let Some(k) = keys.first(&meta, cx)? else {
                return Ok(());
            };
            match k {
                key::REPLY => {
                    let options = [("plain", ReplyKind::Plain), ("result", ReplyKind::Result)];
                    out.reply = choice(&meta, k, &options, cx)?.unwrap_or(ReplyKind::Auto);
                }
                key::PRIORITY => {
                    let options = [("high", "High"), ("normal", "Normal"), ("low", "Low")];
                    out.priority = choice(&meta, k, &options, cx)?;
                }
                key::WHEN => out.when = when_value(&meta, cx)?,
                key::ROUTE_KEY => {
                    let form =
                        "the name of one of the handler's arguments, like `route_key = user_id`";
                    out.route_key = value(&meta, k, form, cx, |v| v.parse::<syn::Ident>())?;
                }
                key::OTHERWISE => {
                    let span = syn::spanned::Spanned::span(&meta.path);
                    out.otherwise = choice(&meta, k, OTHERWISE, cx)?.map(|o| (o, span));
                }
                key::FAIL_ON_ERROR => out.fail_on_error = Some(flag(&meta, k, cx)?),
                _ => skip_value(meta.input)?,
            }
            Ok(())
        });
        if let Err(e) = result {
            cx.push(e);
        }
        out
    }
}

/// `true` for `#[name]`, `#[name(..)]` and `#[bactor::name(..)]`.
pub(crate) fn is_attr(attr: &Attribute, name: &str) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == name)
}

/// `true` for `#[handler]`, `#[handler(..)]` and `#[bactor::handler]`.
pub(crate) fn is_handler_attr(attr: &Attribute) -> bool {
    is_attr(attr, symbol::HANDLER)
}

/// `true` for `///` docs and `#[doc = ..]`.
pub(crate) fn is_doc_attr(attr: &Attribute) -> bool {
    attr.path().is_ident("doc")
}
