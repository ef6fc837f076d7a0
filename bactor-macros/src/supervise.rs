//! `#[supervise(...)]`: how an actor supervises its children, checked at compile time.
//!
//! ```text
//! #[supervise(strategy = one_for_one | all_for_one, max_restarts = 10, within = "10s",
//!             backoff = exponential(min = "100ms", max = "10s", jitter = 0.2, reset = "5s"),
//!             decide = path::to::fn)]
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitFloat, LitStr, Path};

use crate::attr::{self, Keys};
use crate::ctxt::Ctxt;
use crate::symbol::{self, key};

/// A duration string, as `key = "10s"`.
fn duration(
    meta: &syn::meta::ParseNestedMeta<'_>,
    key: &str,
    cx: &mut Ctxt,
) -> syn::Result<Option<LitStr>> {
    let form =
        "a duration, a string with a unit (ns, us, ms, s, m, h), like `\"100ms\"` or `\"1.5s\"`";
    attr::value(meta, key, form, cx, |v| v.parse::<LitStr>())
}

pub(crate) struct SuperviseArgs {
    all_for_one: bool,
    max_restarts: Option<(Ident, u32)>,
    within: Option<u64>,
    backoff: Option<(Span, BackoffArgs)>,
    decide: Option<Path>,
}

struct BackoffArgs {
    min: u64,
    max: u64,
    jitter: Option<f64>,
    reset: Option<u64>,
}

/// Parses `"100ms"`, `"1.5s"`, `"2m"` into nanoseconds.
pub(crate) fn parse_duration(lit: &LitStr) -> syn::Result<u64> {
    let text = lit.value();
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid duration `{text}`; expected a number and a unit, like \"100ms\" or \"1.5s\""
            ),
        ));
    }
    let scale: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "" => {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "duration `{text}` has no unit; write e.g. \"{text}ms\" or \"{text}s\" (units: ns, us, ms, s, m, h)"
                ),
            ));
        }
        other => {
            return Err(syn::Error::new(
                lit.span(),
                format!("unknown duration unit `{other}`; expected one of: ns, us, ms, s, m, h"),
            ));
        }
    };
    let value: f64 = num.parse().map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!("invalid duration `{text}`; expected a number and a unit, like \"100ms\" or \"1.5s\""),
        )
    })?;
    let nanos = value * scale;
    if !nanos.is_finite() || nanos > u64::MAX as f64 {
        return Err(syn::Error::new(
            lit.span(),
            format!("duration `{text}` is too long"),
        ));
    }
    Ok(nanos.round() as u64)
}

impl SuperviseArgs {
    /// Parses the arguments of one `#[supervise(...)]`, recording problems in `cx`.
    pub(crate) fn parse(args: TokenStream, cx: &mut Ctxt) -> SuperviseArgs {
        let mut out = SuperviseArgs {
            all_for_one: false,
            max_restarts: None,
            within: None,
            backoff: None,
            decide: None,
        };
        let mut keys = Keys::new("`#[supervise]`", symbol::SUPERVISE_KEYS);
        let parser = syn::meta::parser(|meta| {
            let Some(k) = keys.first(&meta, cx)? else {
                return Ok(());
            };
            match k {
                key::STRATEGY => {
                    let options = [("one_for_one", false), ("all_for_one", true)];
                    out.all_for_one = attr::choice(&meta, k, &options, cx)?.unwrap_or(false);
                }
                key::MAX_RESTARTS => {
                    let form = "the number of restarts allowed within `within`, a whole number from 0 to 4294967295, like `max_restarts = 10`";
                    let key_ident = meta.path.get_ident().cloned();
                    if let Some((lit, n)) = attr::int::<u32>(&meta, k, form, 0, cx)? {
                        let ident = key_ident.unwrap_or_else(|| Ident::new(k, lit.span()));
                        out.max_restarts = Some((ident, n));
                    }
                }
                key::WITHIN => {
                    if let Some(lit) = duration(&meta, k, cx)? {
                        match parse_duration(&lit) {
                            Ok(n) => out.within = Some(n),
                            Err(e) => cx.push(e),
                        }
                    }
                }
                key::BACKOFF => {
                    let form = "`exponential(min = \"100ms\", max = \"10s\")`, with `jitter = 0.2` and `reset = \"5s\"` optional";
                    let backoff = attr::value(&meta, k, form, cx, |v| {
                        let kind: Ident = v.parse()?;
                        if kind != "exponential" {
                            return Err(syn::Error::new(kind.span(), "not exponential"));
                        }
                        let content;
                        syn::parenthesized!(content in v);
                        Ok((kind.span(), content.parse::<TokenStream>()?))
                    })?;
                    if let Some((span, content)) = backoff
                        && let Some(b) = parse_backoff(content, span, cx)?
                    {
                        out.backoff = Some((span, b));
                    }
                }
                key::DECIDE => {
                    let form =
                        "the path of a `fn(&ActorError) -> Directive`, like `decide = my_decider`";
                    out.decide = attr::path(&meta, k, form, cx)?;
                }
                _ => attr::skip_value(meta.input)?,
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(args) {
            cx.push(e);
        }
        // Conflicting options.
        if let (Some((key, 0)), Some((span, _))) = (&out.max_restarts, &out.backoff) {
            let mut e = syn::Error::new(
                *span,
                "`backoff` has no effect with `max_restarts = 0`: no restart ever happens; remove one of them",
            );
            e.combine(syn::Error::new(key.span(), "`max_restarts = 0` set here"));
            cx.push(e);
        }
        out
    }

    /// The `SupervisorStrategy` expression.
    pub(crate) fn expand(&self, krate: &Path) -> TokenStream {
        let p = quote!(#krate::__private);
        let mut expr = if self.all_for_one {
            quote!(#p::SupervisorStrategy::all_for_one())
        } else {
            quote!(#p::SupervisorStrategy::one_for_one())
        };
        if let Some((_, n)) = &self.max_restarts {
            expr = quote!(#expr.max_restarts(#n));
        }
        if let Some(ns) = self.within {
            expr = quote!(#expr.within(#p::Duration::from_nanos(#ns)));
        }
        if let Some((_, b)) = &self.backoff {
            let (min, max) = (b.min, b.max);
            let mut backoff = quote!(#p::Backoff::exponential(#p::Duration::from_nanos(#min), #p::Duration::from_nanos(#max)));
            if let Some(j) = b.jitter {
                backoff = quote!(#backoff.jitter(#j));
            }
            if let Some(r) = b.reset {
                backoff = quote!(#backoff.reset_after(#p::Duration::from_nanos(#r)));
            }
            expr = quote!(#expr.backoff(#backoff));
        }
        if let Some(path) = &self.decide {
            // Spanned on the user's path, so a wrong signature is reported there.
            let decider = quote_spanned!(path.span()=> {
                let __bactor_decider: fn(&#p::ActorError) -> #p::Directive = #path;
                __bactor_decider
            });
            expr = quote!(#expr.decider(#decider));
        }
        expr
    }
}

fn parse_backoff(
    input: TokenStream,
    span: Span,
    cx: &mut Ctxt,
) -> syn::Result<Option<BackoffArgs>> {
    let mut min = None;
    let mut max = None;
    let mut jitter = None;
    let mut reset = None;
    let mut keys = Keys::new("`exponential(..)`", symbol::BACKOFF_KEYS);
    let mut ok = true;
    syn::meta::parser(|meta| {
        let Some(k) = keys.first(&meta, cx)? else {
            ok = false;
            return Ok(());
        };
        match k {
            key::MIN | key::MAX | key::RESET => {
                let Some(lit) = duration(&meta, k, cx)? else {
                    ok = false;
                    return Ok(());
                };
                match parse_duration(&lit) {
                    Ok(ns) => {
                        let slot = match k {
                            key::MIN => &mut min,
                            key::MAX => &mut max,
                            _ => &mut reset,
                        };
                        *slot = Some((lit, ns));
                    }
                    Err(e) => {
                        cx.push(e);
                        ok = false;
                    }
                }
            }
            key::JITTER => {
                let form = "a fraction from 0.0 to 1.0, like `jitter = 0.2`";
                let Some(lit) = attr::value(&meta, k, form, cx, |v| v.parse::<LitFloat>())? else {
                    ok = false;
                    return Ok(());
                };
                match lit.base10_parse::<f64>() {
                    Ok(j) if (0.0..=1.0).contains(&j) => jitter = Some(j),
                    _ => {
                        cx.error_spanned_by(&lit, format!("`jitter` takes {form}"));
                        ok = false;
                    }
                }
            }
            _ => attr::skip_value(meta.input)?,
        }
        Ok(())
    })
    .parse2(input)?;
    let (Some((_, min_ns)), Some((max_lit, max_ns))) = (&min, &max) else {
        if ok {
            cx.push(syn::Error::new(span, "`exponential` needs both `min` and `max`, like `exponential(min = \"100ms\", max = \"10s\")`"));
        }
        return Ok(None);
    };
    if *min_ns == 0 {
        if let Some((lit, _)) = &min {
            cx.error_spanned_by(lit, "`min` must be longer than zero");
        }
        return Ok(None);
    }
    if min_ns > max_ns {
        cx.error_spanned_by(max_lit, "`max` must not be shorter than `min`");
        return Ok(None);
    }
    if !ok {
        return Ok(None);
    }
    Ok(Some(BackoffArgs {
        min: *min_ns,
        max: *max_ns,
        jitter,
        reset: reset.map(|(_, ns)| ns),
    }))
}

/// `true` for `#[supervise(..)]` and `#[bactor::supervise(..)]`.
pub(crate) fn is_supervise_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == symbol::SUPERVISE)
}

/// `#[supervise]` or `#[persistent]` expanded on its own: it was written above `#[actor]`.
/// Re-emit the item with the attribute moved below `#[actor]`, which reads it; without
/// `#[actor]`, an error.
pub(crate) fn reorder(name: &str, args: TokenStream, input: TokenStream) -> TokenStream {
    let Ok(mut item) = syn::parse2::<syn::Item>(input.clone()) else {
        return input;
    };
    let attrs = match &mut item {
        syn::Item::Struct(s) => &mut s.attrs,
        syn::Item::Enum(e) => &mut e.attrs,
        _ => {
            let err = syn::Error::new(
                Span::call_site(),
                format!("`#[{name}]` goes on an `#[actor]` struct or enum"),
            )
            .to_compile_error();
            return quote!(#input #err);
        }
    };
    let Some(pos) = attrs
        .iter()
        .position(|a| a.path().segments.last().is_some_and(|s| s.ident == "actor"))
    else {
        let err = syn::Error::new(
            Span::call_site(),
            format!("`#[{name}]` needs `#[actor]` on the same struct or enum"),
        )
        .to_compile_error();
        return quote!(#input #err);
    };
    let ident = Ident::new(name, Span::call_site());
    let attr: Attribute = if args.is_empty() {
        syn::parse_quote!(#[#ident])
    } else {
        syn::parse_quote!(#[#ident(#args)])
    };
    attrs.insert(pos + 1, attr);
    quote!(#item)
}
