//! Playlist rewriting: a pure function from upstream bytes to the bytes the player gets.
//!
//! Every URI a player may fetch becomes a signed child proxy URL; every other byte is kept
//! (comments, unknown tags, attribute order, line endings, a BOM, a missing final newline).
//! `docs/proxy.md` lists the decisions; `hls-uri-tags.md` is the specification.
//!
//! The pass is line-based and never builds a playlist model: a model would have to round-trip
//! every oddity of real playlists, while a line scanner only touches the bytes it replaces.

use std::borrow::Cow;

use url::Url;

use super::token::{ChildWriter, Kind, Plain, SealedContext, Signer};

/// What a rewrite needs besides the bytes.
#[derive(Debug, Clone, Copy)]
pub struct RewriteContext<'a> {
    pub signer: &'a Signer,
    /// The parent's sealed headers and expiry, reused verbatim by every child.
    pub sealed: &'a SealedContext,
    /// The final, post-redirect upstream URL of this playlist, without LL-HLS directives.
    pub base: &'a Url,
    /// Variables imported from the multivariant playlist (`name=value` lines), from the
    /// proxy URL's signed `v`.
    pub imported: Option<&'a str>,
    /// Largest output a rewrite may produce (`proxy.max_rewritten_bytes`). Every URI grows
    /// into a proxy URL of about 250 bytes, so the input cap alone does not bound the output:
    /// 16 MiB of 2-byte lines would become gigabytes.
    pub max_output: usize,
}

/// Why a playlist cannot be rewritten. Anything merely unusual is left as it is instead; these
/// are the two ways a playlist can make the rewrite itself unbounded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    #[error("the rewritten playlist would be larger than {0} bytes")]
    OutputTooLarge(usize),
    #[error(
        "the playlist's EXT-X-DEFINE variables take more than {MAX_CHILD_VARS} bytes, \
         too many to carry in every variant's URL"
    )]
    TooManyVariables,
}

/// The serialized `EXT-X-DEFINE` variables a child playlist inherits travel, signed, in every
/// variant URL (`v`): beyond this the URLs would pass the API's 16 KiB request-target limit.
pub const MAX_CHILD_VARS: usize = 4096;

/// `name=value` pairs in definition order. Playlists define a handful: a Vec beats a map.
#[derive(Debug, Default, Clone)]
struct Vars(Vec<(String, String)>);

impl Vars {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        self.0.push((name.to_string(), value));
    }

    fn parse_imported(s: &str) -> Vars {
        Vars(
            s.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The `v` a child playlist inherits; later definitions of a name win.
    fn serialize(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let mut out = String::new();
        for (i, (k, v)) in self.0.iter().enumerate() {
            if self.0[i + 1..].iter().any(|(later, _)| later == k) {
                continue;
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
            out.push('\n');
        }
        Some(out)
    }
}

/// Bytes that variable substitution may produce in one rewrite: this much per input byte,
/// plus [`SUBSTITUTION_FLOOR`]. Definitions built from one another (`{$a}{$a}`, repeated)
/// grow exponentially: without a bound, a 2 KB playlist asks for terabytes
/// (`fuzz/seeds/playlist_rewrite/define-doubling-oom.m3u8`). Real playlists substitute a
/// host or a token per URI, far below this.
const SUBSTITUTION_PER_INPUT_BYTE: usize = 16;
const SUBSTITUTION_FLOOR: usize = 1 << 20;

/// Replaces `{$name}` references; `None` if one is undefined (the player would reject the
/// playlist, so the URI is left for it to reject rather than proxied half-substituted), or
/// if the values would exceed what is left of `budget`, which they are taken from.
fn substitute<'s>(text: &'s str, vars: &Vars, budget: &mut usize) -> Option<Cow<'s, str>> {
    if !text.contains("{$") {
        return Some(Cow::Borrowed(text));
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("{$") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let value = vars.get(name)?;
        *budget = budget.checked_sub(value.len())?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// One attribute of an attribute list: the name and the byte range of its value inside the
/// attribute-list string (without the quotes, for a quoted-string).
#[derive(Debug, Clone, Copy)]
struct Attr<'a> {
    name: &'a str,
    start: usize,
    end: usize,
    quoted: bool,
}

/// Parses an attribute list (8216 §4.2) leniently: spaces after commas and unquoted values
/// (`BYTERANGE=20000@0`) are accepted; quoted strings may contain commas. `None` if a quote
/// is left open (a truncated line is left unchanged).
fn parse_attrs(list: &str) -> Option<Vec<Attr<'_>>> {
    let b = list.as_bytes();
    let mut attrs = Vec::with_capacity(6);
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let name = list[name_start..i].trim_end();
        if i >= b.len() || b[i] == b',' {
            // A bare word (`#EXT-X-FOO:BAR`): not an attribute; skip it.
            i += 1;
            continue;
        }
        i += 1; // '='
        if i < b.len() && b[i] == b'"' {
            let start = i + 1;
            let len = b[start..].iter().position(|&c| c == b'"')?;
            let end = start + len;
            attrs.push(Attr {
                name,
                start,
                end,
                quoted: true,
            });
            i = end + 1;
            // Anything up to the next comma belongs to nobody; skip it.
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            attrs.push(Attr {
                name,
                start,
                end: i,
                quoted: false,
            });
        }
        i += 1; // ','
    }
    Some(attrs)
}

fn attr<'a>(list: &'a str, attrs: &[Attr<'a>], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| a.name == name)
        .map(|a| &list[a.start..a.end])
}

/// The tags whose quoted attributes carry URIs, and what the target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A segment, part, key, init section, session data: no imported variables.
    Resource,
    /// A Media Playlist named by the multivariant playlist: inherits its variables.
    MediaPlaylist,
    /// A rendition report: must equal what the multivariant playlist minted, so it carries
    /// the variables this playlist itself received.
    RenditionReport,
    /// An interstitial asset (its own presentation: imports nothing).
    Asset,
    /// A steering manifest or an asset list: JSON the proxy rewrites.
    Json,
}

struct Rewriter<'a> {
    ctx: RewriteContext<'a>,
    /// `base` up to and including the last `/` of its path: plain relative names are
    /// appended to it without a full RFC 3986 resolution (the 20,000-segment fast path).
    base_dir: &'a str,
    vars: Vars,
    /// Variables a child Media Playlist imports: every definition of this playlist.
    child_vars: Option<String>,
    imported: Vars,
    writer: ChildWriter<'a>,
    /// The resolved upstream URL of the URI being rewritten.
    scratch: String,
    /// The proxy URL being written; reused, so a rewrite allocates per line only when a tag
    /// line changes.
    url: String,
    /// What variable substitution may still produce (see [`SUBSTITUTION_PER_INPUT_BYTE`]).
    substitution_budget: usize,
    /// Set by a line that cannot be rewritten within the limits; ends the rewrite.
    error: Option<RewriteError>,
}

/// Rewrites a playlist. What cannot be understood is left as it is; only a rewrite that would
/// grow past its limits fails (see [`RewriteError`]).
pub fn rewrite(input: &[u8], ctx: RewriteContext<'_>) -> Result<Vec<u8>, RewriteError> {
    let mut out = Vec::with_capacity((input.len() + input.len() / 2).min(ctx.max_output));
    RewriteState::new(input, ctx).fill(input, ctx, &mut out, usize::MAX)?;
    Ok(out)
}

/// A rewrite done piece by piece, so that its output need never be held whole: the proxy
/// streams each piece to the player as the player takes it (a 120,000-segment playlist
/// rewrites to 22 MB; held whole, 30 slow readers took 700 MiB).
///
/// The state borrows nothing: every [`RewriteState::fill`] takes the input and the context
/// again, which must be the ones given to [`RewriteState::new`]. The pieces, in order, are
/// exactly [`rewrite`]'s output, and the same limits fail the same way. After an error the
/// state is spent.
#[derive(Debug, Clone)]
pub struct RewriteState {
    vars: Vars,
    child_vars: Option<String>,
    imported: Vars,
    substitution_budget: usize,
    at: Position,
}

#[derive(Debug, Clone, Copy, Default)]
struct Position {
    /// Where the next line starts.
    next: usize,
    /// Input before this is in the output already.
    copied: usize,
    after_stream_inf: bool,
    /// Output bytes produced by earlier pieces, for `max_output`.
    written: usize,
    done: bool,
}

impl RewriteState {
    /// Starts a rewrite: collects the playlist's variable definitions (one pass over the
    /// input when it has any), produces nothing yet.
    pub fn new(input: &[u8], ctx: RewriteContext<'_>) -> RewriteState {
        let imported = ctx.imported.map(Vars::parse_imported).unwrap_or_default();
        let budget = input
            .len()
            .saturating_mul(SUBSTITUTION_PER_INPUT_BYTE)
            .saturating_add(SUBSTITUTION_FLOOR);
        let mut rw = Rewriter::new(ctx, Vars::default(), None, imported, budget);
        if memchr::memmem::find(input, b"#EXT-X-DEFINE:").is_some() {
            // Every child playlist must get the same `v` whatever line names it (rendition
            // reports are matched by URL), so collect all definitions first.
            let mut all = Vars::default();
            for line in lines(input, 0) {
                if let Ok(text) = std::str::from_utf8(line.content) {
                    if let Some(list) = text.strip_prefix("#EXT-X-DEFINE:") {
                        rw.define(list, &mut all);
                    }
                }
            }
            rw.child_vars = all.serialize();
            // The second pass must give every variable the value the first pass did.
            rw.substitution_budget = budget;
        }
        RewriteState {
            vars: rw.vars,
            child_vars: rw.child_vars,
            imported: rw.imported,
            substitution_budget: rw.substitution_budget,
            at: Position::default(),
        }
    }

    /// Whether the whole output has been produced.
    pub fn is_done(&self) -> bool {
        self.at.done
    }

    /// Appends the next piece of the output to `out`: whole lines, until the piece holds at
    /// least `at_least` bytes or the playlist ends. `Ok(true)` once the output is complete
    /// (later calls add nothing).
    pub fn fill(
        &mut self,
        input: &[u8],
        ctx: RewriteContext<'_>,
        out: &mut Vec<u8>,
        at_least: usize,
    ) -> Result<bool, RewriteError> {
        if self.at.done {
            return Ok(true);
        }
        let mut rw = Rewriter::new(
            ctx,
            std::mem::take(&mut self.vars),
            self.child_vars.take(),
            std::mem::take(&mut self.imported),
            self.substitution_budget,
        );
        let result = run(&mut rw, &mut self.at, input, out, at_least);
        self.vars = rw.vars;
        self.child_vars = rw.child_vars;
        self.imported = rw.imported;
        self.substitution_budget = rw.substitution_budget;
        result
    }
}

/// The line loop of [`RewriteState::fill`].
fn run(
    rw: &mut Rewriter<'_>,
    at: &mut Position,
    input: &[u8],
    out: &mut Vec<u8>,
    at_least: usize,
) -> Result<bool, RewriteError> {
    let max_output = rw.ctx.max_output;
    let base_len = out.len();
    let mut copied = at.copied;
    for line in lines(input, at.next) {
        let piece = out.len() - base_len;
        // Checked once a line: a line adds at most one URL (or one tag line) to `out`.
        if at.written + piece > max_output {
            return Err(RewriteError::OutputTooLarge(max_output));
        }
        if let Some(e) = rw.error.take() {
            return Err(e);
        }
        let pending = piece + (line.start - copied);
        // Pieces end after a line feed (not between a BOM and the first line).
        if pending >= at_least.max(1) && input[..line.start].ends_with(b"\n") {
            out.extend_from_slice(&input[copied..line.start]);
            at.copied = line.start;
            at.next = line.start;
            at.written += out.len() - base_len;
            return Ok(false);
        }
        let Ok(text) = std::str::from_utf8(line.content) else {
            continue;
        };
        if text.starts_with('#') {
            if let Some(new) = rw.tag_line(text, &mut at.after_stream_inf) {
                out.extend_from_slice(&input[copied..line.start]);
                out.extend_from_slice(new.as_bytes());
                copied = line.start + line.content.len();
            }
            continue;
        }
        // Any whitespace, as hls.js reads it (`\s`): a line of `\v#…` is a comment to the
        // player, and must not become a segment once rewritten.
        let trimmed = text.trim_matches(char::is_whitespace);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let target = if std::mem::take(&mut at.after_stream_inf) {
            Target::MediaPlaylist
        } else {
            Target::Resource
        };
        if rw.proxify(trimmed, target) {
            // Only the URI is replaced: surrounding blanks stay where they were.
            let lead = text.len() - text.trim_start_matches(char::is_whitespace).len();
            out.extend_from_slice(&input[copied..line.start + lead]);
            out.extend_from_slice(rw.url.as_bytes());
            copied = line.start + lead + trimmed.len();
        }
    }
    out.extend_from_slice(&input[copied..]);
    at.copied = input.len();
    at.next = input.len();
    at.written += out.len() - base_len;
    if at.written > max_output {
        return Err(RewriteError::OutputTooLarge(max_output));
    }
    match rw.error.take() {
        Some(e) => Err(e),
        None => {
            at.done = true;
            Ok(true)
        }
    }
}

impl<'a> Rewriter<'a> {
    fn new(
        ctx: RewriteContext<'a>,
        vars: Vars,
        child_vars: Option<String>,
        imported: Vars,
        substitution_budget: usize,
    ) -> Rewriter<'a> {
        let base_str = ctx.base.as_str();
        let path_end = base_str.find(['?', '#']).unwrap_or(base_str.len());
        let base_dir = &base_str[..base_str[..path_end].rfind('/').map_or(path_end, |i| i + 1)];
        Rewriter {
            ctx,
            base_dir,
            vars,
            child_vars,
            imported,
            writer: ctx.signer.child_writer(ctx.sealed),
            scratch: String::with_capacity(256),
            url: String::with_capacity(512),
            substitution_budget,
            error: None,
        }
    }
}

struct Line<'a> {
    start: usize,
    /// Without its terminator (`\n` or `\r\n`).
    content: &'a [u8],
}

/// The lines of `input` from the one starting at `from`.
fn lines(input: &[u8], from: usize) -> impl Iterator<Item = Line<'_>> {
    let mut pos = from;
    std::iter::from_fn(move || {
        if pos >= input.len() {
            return None;
        }
        let start = pos;
        let (end, next) = match memchr::memchr(b'\n', &input[start..]) {
            Some(i) => (start + i, start + i + 1),
            None => (input.len(), input.len()),
        };
        pos = next;
        let mut content = &input[start..end];
        if let [head @ .., b'\r'] = content {
            content = head;
        }
        // A BOM belongs to no line: keep it, parse what follows.
        let (start, content) = match content.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) if start == 0 => (3, rest),
            _ => (start, content),
        };
        Some(Line { start, content })
    })
}

impl Rewriter<'_> {
    /// Processes an `EXT-X-DEFINE` into `vars` and returns the replacement line for a
    /// QUERYPARAM definition (see `docs/proxy.md`).
    fn define(&mut self, list: &str, vars: &mut Vars) -> Option<String> {
        let attrs = parse_attrs(list)?;
        let get = |n: &str| {
            attrs
                .iter()
                .find(|a| a.name == n && a.quoted)
                .map(|a| &list[a.start..a.end])
        };
        if let (Some(name), Some(value)) = (get("NAME"), get("VALUE")) {
            let value =
                substitute(value, vars, &mut self.substitution_budget).map(Cow::into_owned)?;
            vars.set(name, value);
            None
        } else if let Some(name) = get("IMPORT") {
            let value = self.imported.get(name)?.to_string();
            vars.set(name, value);
            None
        } else if let Some(name) = get("QUERYPARAM") {
            // The player evaluates QUERYPARAM against the URL *it* fetched, the proxy URL,
            // which lacks the upstream's parameters: define the value explicitly instead.
            let value = self
                .ctx
                .base
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())?;
            if value.contains(['"', '\r', '\n']) {
                return None;
            }
            let line = format!("#EXT-X-DEFINE:NAME=\"{name}\",VALUE=\"{value}\"");
            vars.set(name, value);
            Some(line)
        } else {
            None
        }
    }

    fn tag_line(&mut self, text: &str, after_stream_inf: &mut bool) -> Option<String> {
        let (tag, list) = match text.find(':') {
            Some(i) => (&text[..=i], &text[i + 1..]),
            None => (text, ""),
        };
        // (attribute, target) pairs to rewrite in this tag.
        let targets: &[(&str, Target)] = match tag {
            "#EXT-X-STREAM-INF:" => {
                *after_stream_inf = true;
                return None;
            }
            "#EXT-X-DEFINE:" => {
                let mut vars = std::mem::take(&mut self.vars);
                let line = self.define(list, &mut vars);
                self.vars = vars;
                return line;
            }
            "#EXT-X-PREFETCH:" | "#EXT-X-TWITCH-PREFETCH:" => {
                return self.prefetch_line(text, tag, list);
            }
            "#EXT-X-KEY:" | "#EXT-X-SESSION-KEY:" => &[("URI", Target::Resource)],
            "#EXT-X-MAP:" | "#EXT-X-PART:" | "#EXT-X-PRELOAD-HINT:" | "#EXT-X-SESSION-DATA:" => {
                &[("URI", Target::Resource)]
            }
            "#EXT-X-MEDIA:" | "#EXT-X-I-FRAME-STREAM-INF:" | "#EXT-X-IMAGE-STREAM-INF:" => {
                &[("URI", Target::MediaPlaylist)]
            }
            "#EXT-X-RENDITION-REPORT:" => &[("URI", Target::RenditionReport)],
            "#EXT-X-CONTENT-STEERING:" => &[("SERVER-URI", Target::Json)],
            "#EXT-X-DATERANGE:" => &[
                ("X-ASSET-URI", Target::Asset),
                ("X-ASSET-LIST", Target::Json),
            ],
            _ => return None,
        };
        let attrs = parse_attrs(list)?;
        if tag == "#EXT-X-DATERANGE:"
            && attr(list, &attrs, "CLASS") != Some("com.apple.hls.interstitial")
        {
            return None;
        }
        if tag == "#EXT-X-KEY:" || tag == "#EXT-X-SESSION-KEY:" {
            // Only keys fetched over HTTP: FairPlay `skd:`, inline `data:` and every other
            // key system hand the URI to a CDM, which must see it byte for byte.
            let format = attr(list, &attrs, "KEYFORMAT");
            if format.is_some_and(|f| f != "identity") {
                return None;
            }
        }
        let mut out: Option<String> = None;
        let mut copied = 0;
        for a in &attrs {
            let Some(&(_, target)) = targets.iter().find(|(n, _)| *n == a.name) else {
                continue;
            };
            if !a.quoted {
                continue;
            }
            let value = &list[a.start..a.end];
            if !self.proxify(value.trim_matches([' ', '\t']), target) {
                continue;
            }
            let url = &self.url;
            let s = out.get_or_insert_with(|| String::with_capacity(text.len() + url.len()));
            s.push_str(&text[copied..tag.len() + a.start]);
            s.push_str(url);
            copied = tag.len() + a.end;
        }
        let mut s = out?;
        s.push_str(&text[copied..]);
        Some(s)
    }

    /// A prefetch tag's value is a bare URI (no attribute list).
    fn prefetch_line(&mut self, text: &str, tag: &str, list: &str) -> Option<String> {
        let trimmed = list.trim_matches([' ', '\t']);
        if trimmed.is_empty() || !self.proxify(trimmed, Target::Resource) {
            return None;
        }
        let url = &self.url;
        let start = tag.len() + (list.len() - list.trim_start_matches([' ', '\t']).len());
        let end = start + trimmed.len();
        Some(format!("{}{url}{}", &text[..start], &text[end..]))
    }

    /// Writes the proxy URL for a URI as written in the playlist into `self.url`; `false`
    /// to keep the URI.
    fn proxify(&mut self, raw: &str, target: Target) -> bool {
        if raw.is_empty() {
            return false;
        }
        let Some(uri) = substitute(raw, &self.vars, &mut self.substitution_budget) else {
            return false;
        };
        let uri = uri.trim_matches([' ', '\t']);
        let (vars, kind) = match target {
            Target::Resource | Target::Asset => (None, Kind::Media),
            // Only a child playlist inherits the definitions: a media playlist with large ones
            // still plays.
            Target::MediaPlaylist
                if self
                    .child_vars
                    .as_ref()
                    .is_some_and(|v| v.len() > MAX_CHILD_VARS) =>
            {
                self.error = Some(RewriteError::TooManyVariables);
                return false;
            }
            Target::MediaPlaylist => (self.child_vars.as_deref(), Kind::Media),
            Target::RenditionReport => (self.ctx.imported, Kind::Media),
            Target::Json => (None, Kind::Json),
        };
        self.scratch.clear();
        if is_plain_relative(uri) {
            self.scratch.push_str(self.base_dir);
            self.scratch.push_str(uri);
        } else {
            let Some(resolved) = resolve(self.ctx.base, uri) else {
                return false;
            };
            self.scratch.push_str(resolved.as_str());
        }
        self.url.clear();
        self.writer.write(&mut self.url, &self.scratch, vars, kind);
        true
    }
}

/// The child proxy URL for one URI of a JSON document (steering manifest, asset list),
/// resolved against `ctx.base`; `None` to keep it (not http(s), unresolvable).
pub fn child_url(ctx: &RewriteContext<'_>, uri: &str, kind: Kind) -> Option<String> {
    let uri = uri.trim();
    if uri.is_empty() {
        return None;
    }
    let resolved = resolve(ctx.base, uri)?;
    let mut out = String::new();
    ctx.signer.write_child(
        &mut out,
        ctx.sealed,
        Plain {
            upstream: resolved.as_str(),
            vars: None,
            kind,
        },
    );
    Some(out)
}

/// RFC 3986 resolution of a URI the proxy may fetch: http(s) or relative, fragment dropped
/// (it is never sent to a server). Percent-escapes are kept as they are: `%2F` stays `%2F`.
pub fn resolve(base: &Url, uri: &str) -> Option<Url> {
    if let Some(scheme_end) = uri.find(':') {
        let scheme = &uri[..scheme_end];
        let is_scheme = !scheme.is_empty()
            && scheme.as_bytes()[0].is_ascii_alphabetic()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if is_scheme
            && !scheme.eq_ignore_ascii_case("http")
            && !scheme.eq_ignore_ascii_case("https")
        {
            // `skd:`, `data:`, `C:\…`: not fetched over HTTP by the player.
            return None;
        }
    }
    let mut url = base.join(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

/// A relative reference that RFC 3986 resolution would simply append to the base directory,
/// unchanged: no scheme, no leading `/`, no dot segment, no fragment, and only characters
/// the URL parser never escapes.
fn is_plain_relative(uri: &str) -> bool {
    let b = uri.as_bytes();
    if b.is_empty() || b[0] == b'/' || b[0] == b'?' {
        return false;
    }
    let path_end = memchr::memchr(b'?', b).unwrap_or(b.len());
    let path = &b[..path_end];
    for (i, &c) in b.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b','
                    | b';' | b'=' | b'@' | b'/' | b'?'
            )
            // `%` keeps its escape, but `%2e` in a path is a dot segment to the URL parser.
            || (c == b'%' && i >= path_end);
        if !ok {
            return false;
        }
    }
    !path
        .split(|&c| c == b'/')
        .any(|seg| seg == b"." || seg == b"..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::token::{CHILD_PREFIX, ProxyContext};
    use proptest::strategy::Strategy as _;

    fn signer() -> Signer {
        Signer::new(b"test")
    }

    fn sealed(s: &Signer) -> SealedContext {
        s.seal(&ProxyContext {
            headers: vec![("Referer".into(), "https://embed.example/".into())],
            expires: 4_000_000_000,
            provider: None,
        })
    }

    fn run(input: &str, base: &str) -> String {
        run_with(input, base, None)
    }

    fn run_with(input: &str, base: &str, imported: Option<&str>) -> String {
        try_run(input, base, imported, usize::MAX).unwrap()
    }

    fn try_run(
        input: &str,
        base: &str,
        imported: Option<&str>,
        max_output: usize,
    ) -> Result<String, RewriteError> {
        let out = whole(input.as_bytes(), base, imported, max_output)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// The upstream URL (and kind, vars) a child proxy URL carries, verified.
    fn decode(child: &str) -> (String, Kind, Option<String>) {
        let full = Url::parse("http://sokoul/").unwrap().join(child).unwrap();
        let q: Vec<(String, String)> = full.query_pairs().into_owned().collect();
        let p = |n: &str| q.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let v = signer()
            .verify_kind(
                p("c").unwrap(),
                p("u").unwrap(),
                p("s").unwrap(),
                p("v"),
                p("k"),
                0,
            )
            .unwrap();
        (v.upstream, v.kind, v.vars)
    }

    fn proxy_urls(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(CHILD_PREFIX) {
            let tail = &rest[i..];
            let s = tail.find("&s=").unwrap();
            out.push(tail[..s + 3 + 22].to_string());
            rest = &tail[s + 25..];
        }
        out
    }

    fn upstreams(text: &str) -> Vec<String> {
        proxy_urls(text).iter().map(|u| decode(u).0).collect()
    }

    #[test]
    fn segment_lines_are_resolved_against_the_playlist_url() {
        let out = run(
            "#EXTM3U\n#EXTINF:4,\nseg1.ts\n#EXTINF:4,Intro, see https://x.example/\n../b/seg2.ts?t=%2F+\n#EXTINF:4,\n/root.ts\n#EXTINF:4,\n//other.example/x.ts\n#EXTINF:4,\nhttps://abs.example/y.ts#frag\n",
            "https://cdn.example/a/b/index.m3u8?token=1",
        );
        assert_eq!(
            upstreams(&out),
            [
                "https://cdn.example/a/b/seg1.ts",
                "https://cdn.example/a/b/seg2.ts?t=%2F+",
                "https://cdn.example/root.ts",
                "https://other.example/x.ts",
                "https://abs.example/y.ts",
            ]
        );
        assert!(out.contains("#EXTINF:4,Intro, see https://x.example/\n"));
    }

    #[test]
    fn every_uri_attribute_carrier_is_rewritten() {
        let out = run(
            concat!(
                "#EXTM3U\n",
                "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"English, Stereo\",URI=\"audio.m3u8\"\n",
                "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"iframes.m3u8\"\n",
                "#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=1,URI=\"images.m3u8\"\n",
                "#EXT-X-SESSION-DATA:DATA-ID=\"x\",URI=\"data.json\"\n",
                "#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"key.bin\"\n",
                "#EXT-X-CONTENT-STEERING:SERVER-URI=\"steer.json\",PATHWAY-ID=\"A\"\n",
                "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x1\n",
                "#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"100@0\"\n",
                "#EXT-X-PART:DURATION=1,URI=\"part.mp4\",BYTERANGE=20000@0\n",
                "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"hint.mp4\"\n",
                "#EXT-X-RENDITION-REPORT:URI=\"../2/index.m3u8\",LAST-MSN=1\n",
                "#EXT-X-DATERANGE:ID=\"i\",CLASS=\"com.apple.hls.interstitial\",X-ASSET-URI=\"ad.m3u8\",X-ASSET-LIST=\"list.json\",X-FOO-URI=\"keep.m3u8\"\n",
                "#EXT-X-PREFETCH:pre.ts\n",
            ),
            "http://h.example/1/index.m3u8",
        );
        let ups = upstreams(&out);
        assert_eq!(
            ups,
            [
                "http://h.example/1/audio.m3u8",
                "http://h.example/1/iframes.m3u8",
                "http://h.example/1/images.m3u8",
                "http://h.example/1/data.json",
                "http://h.example/1/key.bin",
                "http://h.example/1/steer.json",
                "http://h.example/1/key.bin",
                "http://h.example/1/init.mp4",
                "http://h.example/1/part.mp4",
                "http://h.example/1/hint.mp4",
                "http://h.example/2/index.m3u8",
                "http://h.example/1/ad.m3u8",
                "http://h.example/1/list.json",
                "http://h.example/1/pre.ts",
            ]
        );
        let kinds: Vec<Kind> = proxy_urls(&out).iter().map(|u| decode(u).1).collect();
        assert_eq!(kinds[5], Kind::Json, "steering manifest");
        assert_eq!(kinds[12], Kind::Json, "asset list");
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Json).count(), 2);
        assert!(out.contains("X-FOO-URI=\"keep.m3u8\""));
        assert!(out.contains(",BYTERANGE=\"100@0\"\n") && out.contains(",BYTERANGE=20000@0\n"));
        assert!(out.contains("NAME=\"English, Stereo\","));
    }

    #[test]
    fn key_systems_and_data_uris_are_left_alone() {
        let input = concat!(
            "#EXTM3U\n",
            "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://asset?keyId=1\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n",
            "#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,KEYFORMAT=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\",URI=\"https://license.example/wv\"\n",
            "#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI=\"data:text/plain;base64,AAAA\",KEYFORMAT=\"identity\"\n",
            "#EXT-X-KEY:METHOD=NONE,URI=\"\"\n",
            "#EXT-X-SESSION-DATA:DATA-ID=\"x\",VALUE=\"a,URI=b.json\"\n",
            "#EXT-X-CONTENT-STEERING:SERVER-URI=\"data:application/json,{}\"\n",
            "#EXT-X-DATERANGE:ID=\"d\",CLASS=\"other\",X-ASSET-URI=\"a.m3u8\"\n",
            "#ext-x-key:METHOD=AES-128,URI=\"lower.key\"\n",
            "#EXT-X-UNKNOWN:URI=\"x.bin\"\n",
            "#EXTINF:1,\n",
            "C:\\HLS Video\\test1.ts\n",
            "#EXTINF:1,\n",
            "skd://x\n",
        );
        assert_eq!(run(input, "https://cdn.example/a/index.m3u8"), input);
    }

    #[test]
    fn a_comment_behind_other_whitespace_stays_a_comment() {
        // hls.js skips any whitespace (`\s`) before a line's first character.
        let input = "#EXTM3U\n\u{b}#not a segment\n#EXTINF:1,\n\u{b}seg.ts\n";
        let out = run(input, "https://cdn.example/a/index.m3u8");
        let lines: Vec<&str> = out.split('\n').collect();
        assert_eq!(lines[1], "\u{b}#not a segment");
        assert!(lines[3].starts_with("\u{b}/api/streaming/proxy/"), "{out}");
        assert_eq!(upstreams(&out), ["https://cdn.example/a/seg.ts"]);
    }

    #[test]
    fn line_endings_bom_whitespace_and_a_missing_final_newline_are_kept() {
        let input = "\u{feff}#EXTM3U\r\n#EXTINF:1,\r\n  seg 1.ts\t\n#EXTINF:1,\nseg2.ts";
        let out = run(input, "https://cdn.example/a/index.m3u8");
        assert!(
            out.starts_with("\u{feff}#EXTM3U\r\n#EXTINF:1,\r\n  /api/streaming/proxy/f.ts?c="),
            "{out}"
        );
        let lines: Vec<&str> = out.split('\n').collect();
        assert!(lines[2].ends_with("\t"));
        assert!(!out.ends_with('\n'));
        assert_eq!(
            upstreams(&out),
            [
                "https://cdn.example/a/seg%201.ts",
                "https://cdn.example/a/seg2.ts"
            ]
        );
    }

    #[test]
    fn the_same_upstream_uri_always_gives_the_same_proxy_url() {
        let master = run(
            "#EXTM3U\n#EXT-X-SESSION-KEY:METHOD=AES-128,URI=\"https://k.example/key\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n2/index.m3u8\n",
            "https://cdn.example/live/master.m3u8",
        );
        let media = run(
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"https://k.example/key\"\n#EXT-X-BYTERANGE:10@0\n#EXTINF:1,\nall.ts\n#EXT-X-BYTERANGE:10\n#EXTINF:1,\n./all.ts\n#EXT-X-RENDITION-REPORT:URI=\"../2/index.m3u8\",LAST-MSN=3\n",
            "https://cdn.example/live/1/index.m3u8",
        );
        let m = proxy_urls(&master);
        let d = proxy_urls(&media);
        assert_eq!(m[0], d[0], "session key = key");
        assert_eq!(d[1], d[2], "one resource, one URL");
        assert_eq!(m[1], d[3], "rendition report = variant");
    }

    #[test]
    fn variables_are_substituted_inside_uris_only() {
        let input = concat!(
            "#EXTM3U\n",
            "#EXT-X-DEFINE:NAME=\"host\",VALUE=\"cdn2.example\"\n",
            "#EXT-X-DEFINE:NAME=\"p\",VALUE=\"{$host}/x\"\n",
            "#EXT-X-DEFINE:QUERYPARAM=\"token\"\n",
            "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://{$host}\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n",
            "#EXT-X-STREAM-INF:BANDWIDTH=1,NAME=\"{$host}\"\n",
            "https://{$p}/v.m3u8?t={$token}\n",
            "#EXT-X-STREAM-INF:BANDWIDTH=2\n",
            "https://{$undefined}/v.m3u8\n",
        );
        let out = run(input, "https://cdn.example/master.m3u8?token=a%2Fb&z=1");
        assert!(
            out.contains("#EXT-X-DEFINE:NAME=\"token\",VALUE=\"a/b\"\n"),
            "{out}"
        );
        assert!(out.contains("URI=\"skd://{$host}\""));
        assert!(out.contains("NAME=\"{$host}\"\n"));
        assert!(out.contains("\nhttps://{$undefined}/v.m3u8\n"));
        let urls = proxy_urls(&out);
        assert_eq!(urls.len(), 1);
        let (up, _, vars) = decode(&urls[0]);
        assert_eq!(up, "https://cdn2.example/x/v.m3u8?t=a/b");
        assert_eq!(
            vars.as_deref(),
            Some("host=cdn2.example\np=cdn2.example/x\ntoken=a/b\n")
        );

        // The media playlist imports what its proxy URL carries.
        let media = run_with(
            "#EXTM3U\n#EXT-X-DEFINE:IMPORT=\"host\"\n#EXTINF:1,\nhttps://{$host}/s.ts\n",
            "https://cdn2.example/x/v.m3u8",
            vars.as_deref(),
        );
        assert_eq!(upstreams(&media), ["https://cdn2.example/s.ts"]);
    }

    #[test]
    fn a_queryparam_absent_upstream_is_left_for_the_player_to_reject() {
        let input = "#EXTM3U\n#EXT-X-DEFINE:QUERYPARAM=\"token\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8?t={$token}\n";
        assert_eq!(run(input, "https://cdn.example/m.m3u8"), input);
    }

    #[test]
    fn definitions_doubling_each_other_cannot_exhaust_memory() {
        // Each definition doubles `a`: 2^40 × 8 bytes unbounded. The URI naming it is left
        // for the player to reject; the rest of the playlist is still rewritten.
        let mut input = String::from("#EXTM3U\n#EXT-X-DEFINE:NAME=\"a\",VALUE=\"xxxxxxxx\"\n");
        for _ in 0..40 {
            input.push_str("#EXT-X-DEFINE:NAME=\"a\",VALUE=\"{$a}{$a}\"\n");
        }
        input.push_str("#EXTINF:1,\n{$a}.ts\n#EXTINF:1,\nplain.ts\n");
        let out = run(&input, "https://cdn.example/m.m3u8");
        assert!(out.len() < input.len() + 1024, "{} bytes", out.len());
        assert!(out.contains("\n{$a}.ts\n"));
        assert_eq!(upstreams(&out), ["https://cdn.example/plain.ts"]);
    }

    /// 1,000 segments with 2-byte URIs: each grows into a proxy URL over a hundred times longer.
    fn tiny_uris() -> String {
        let mut input = String::from("#EXTM3U\n");
        for _ in 0..1000 {
            input.push_str("#EXTINF:1,\na\n");
        }
        input
    }

    #[test]
    fn the_rewritten_output_is_capped_not_just_the_input() {
        let input = tiny_uris();
        let base = "https://cdn.example/m.m3u8";
        let whole = run(&input, base);
        assert!(whole.len() > 10 * input.len(), "{} bytes", whole.len());
        assert_eq!(try_run(&input, base, None, whole.len()), Ok(whole.clone()));
        assert_eq!(
            try_run(&input, base, None, whole.len() - 1),
            Err(RewriteError::OutputTooLarge(whole.len() - 1))
        );
        // It stops early rather than building the whole output first.
        assert_eq!(
            try_run(&input, base, None, 4096),
            Err(RewriteError::OutputTooLarge(4096))
        );
    }

    /// The output of a rewrite done in pieces of at least `at_least` bytes: the pieces, or the
    /// error that ended it.
    fn pieces(
        input: &[u8],
        base: &str,
        imported: Option<&str>,
        max_output: usize,
        at_least: usize,
    ) -> Result<Vec<Vec<u8>>, RewriteError> {
        let s = signer();
        let c = sealed(&s);
        let base = Url::parse(base).unwrap();
        let ctx = RewriteContext {
            signer: &s,
            sealed: &c,
            base: &base,
            imported,
            max_output,
        };
        let mut state = RewriteState::new(input, ctx);
        let mut out = Vec::new();
        loop {
            let mut piece = Vec::new();
            let done = state.fill(input, ctx, &mut piece, at_least)?;
            if !done {
                assert!(piece.len() >= at_least, "a short piece before the end");
                assert!(piece.ends_with(b"\n"), "a piece ends inside a line");
            }
            out.push(piece);
            if done {
                assert!(state.is_done());
                return Ok(out);
            }
        }
    }

    fn whole(
        input: &[u8],
        base: &str,
        imported: Option<&str>,
        max_output: usize,
    ) -> Result<Vec<u8>, RewriteError> {
        let s = signer();
        let c = sealed(&s);
        let base = Url::parse(base).unwrap();
        rewrite(
            input,
            RewriteContext {
                signer: &s,
                sealed: &c,
                base: &base,
                imported,
                max_output,
            },
        )
    }

    #[test]
    fn a_rewrite_in_pieces_is_the_whole_rewrite_for_every_fixture() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hls/public");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "m3u8") {
                continue;
            }
            let input = std::fs::read(&path).unwrap();
            // A query for QUERYPARAM definitions; variables for IMPORT ones.
            let base = "https://cdn.example/a/b/index.m3u8?token=t";
            let imported = Some("host=cdn2.example\n");
            let expected = whole(&input, base, imported, usize::MAX);
            for at_least in [1, 700, 64 * 1024] {
                let got = pieces(&input, base, imported, usize::MAX, at_least).map(|p| p.concat());
                assert!(
                    got == expected,
                    "{} in pieces of {at_least}",
                    path.display()
                );
            }
            seen += 1;
        }
        assert!(seen >= 40, "{seen} fixtures");
    }

    #[test]
    fn a_rewrite_in_pieces_fails_at_the_output_cap_like_the_whole_rewrite() {
        let input = tiny_uris();
        let base = "https://cdn.example/m.m3u8";
        let all = whole(input.as_bytes(), base, None, usize::MAX).unwrap();
        for at_least in [1, 4096] {
            let fits = pieces(input.as_bytes(), base, None, all.len(), at_least).unwrap();
            assert_eq!(fits.concat(), all);
            assert_eq!(
                pieces(input.as_bytes(), base, None, all.len() - 1, at_least),
                Err(RewriteError::OutputTooLarge(all.len() - 1))
            );
        }
        // The variables error, found on a variant line, ends a piecewise rewrite too.
        let big = format!(
            "#EXTM3U\n#EXT-X-DEFINE:NAME=\"big\",VALUE=\"{}\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv1.m3u8\n",
            "x".repeat(MAX_CHILD_VARS)
        );
        assert_eq!(
            pieces(big.as_bytes(), base, None, usize::MAX, 1),
            Err(RewriteError::TooManyVariables)
        );
    }

    #[test]
    fn variables_too_large_to_travel_in_every_variant_url_are_refused() {
        let playlist = |value_len: usize| {
            format!(
                "#EXTM3U\n#EXT-X-DEFINE:NAME=\"big\",VALUE=\"{}\"\n\
                 #EXT-X-STREAM-INF:BANDWIDTH=1\nv1.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\nv2.m3u8\n",
                "x".repeat(value_len)
            )
        };
        let base = "https://cdn.example/m.m3u8";
        let fits = run(&playlist(MAX_CHILD_VARS - 16), base);
        assert_eq!(proxy_urls(&fits).len(), 2);
        for url in proxy_urls(&fits) {
            assert!(url.len() < 8 * 1024, "a variant URL of {} bytes", url.len());
        }
        assert_eq!(
            try_run(&playlist(MAX_CHILD_VARS), base, None, usize::MAX),
            Err(RewriteError::TooManyVariables)
        );
    }

    #[test]
    fn unterminated_quotes_and_junk_leave_lines_unchanged() {
        let junk = [
            "#EXTM3U#EXT-X-STREAM-INF:BANDWIDTH=1",
            "#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin",
            "#EXT-X-MAP:URI",
            "#EXT-X-MAP:",
            "#EXT-X-MAP:URI=\"\"",
            "#",
            "",
            " \t",
        ];
        let input = junk.map(|line| format!("{line}\n")).concat();
        assert_eq!(run(&input, "https://cdn.example/m.m3u8"), input);
    }

    #[test]
    fn spaces_after_commas_are_tolerated() {
        let out = run(
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128, URI=\"../key.bin\", IV=0x1\n",
            "https://cdn.example/a/b/m.m3u8",
        );
        assert_eq!(upstreams(&out), ["https://cdn.example/a/key.bin"]);
        assert!(out.ends_with("\", IV=0x1\n"));
    }

    #[test]
    fn invalid_utf8_lines_are_copied_and_the_rest_is_rewritten() {
        let s = signer();
        let c = sealed(&s);
        let base = Url::parse("https://cdn.example/m.m3u8").unwrap();
        let input = b"#EXTM3U\n#EXTINF:1,\xff\xfe\nseg\xff.ts\n#EXTINF:1,\nok.ts\n";
        let out = rewrite(
            input,
            RewriteContext {
                signer: &s,
                sealed: &c,
                base: &base,
                imported: None,
                max_output: usize::MAX,
            },
        )
        .unwrap();
        assert!(out.starts_with(
            b"#EXTM3U\n#EXTINF:1,\xff\xfe\nseg\xff.ts\n#EXTINF:1,\n/api/streaming/proxy/f.ts?c="
        ));
    }

    #[test]
    fn the_fast_path_agrees_with_full_resolution() {
        let base = Url::parse("https://cdn.example/a/b/index.m3u8?x=1").unwrap();
        for uri in [
            "seg1.ts",
            "sub/dir/seg.ts?token=abc&x=%2F",
            "a.b.c",
            "x..y/z",
            "~user/(1)*!$;,=@+",
        ] {
            assert!(is_plain_relative(uri), "{uri}");
            assert_eq!(
                format!("https://cdn.example/a/b/{uri}"),
                resolve(&base, uri).unwrap().as_str()
            );
        }
        for uri in [
            "./x", "../x", "a/../x", "a/./x", "/x", "?q", "#f", "x#f", "x y", "a:b", "%2e%2e/x",
            "é", "x'y", "", "x\\y", "x?'",
        ] {
            assert!(!is_plain_relative(uri), "{uri}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_never_disagrees(uri in "[a-zA-Z0-9._~!$&()*+,;=@/?%'-]{1,24}") {
            let base = Url::parse("https://cdn.example/a/b/index.m3u8?x=1").unwrap();
            if is_plain_relative(&uri) {
                let joined = resolve(&base, &uri).map(|u| u.to_string());
                proptest::prop_assert_eq!(Some(format!("https://cdn.example/a/b/{uri}")), joined);
            }
        }

        #[test]
        fn any_playlist_in_any_pieces_is_the_whole_rewrite(input in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::string::string_regex("#EXT-X-(KEY|MAP|MEDIA|STREAM-INF|DEFINE|PREFETCH):([A-Z-]{1,10}=(\"[^\"\r\n]{0,12}\"?|[a-z0-9{}$]{0,6}),?){0,4}").unwrap(),
                proptest::string::string_regex("[ -~\t]{0,30}").unwrap(),
                proptest::string::string_regex("[^\n]{0,20}").unwrap(),
            ],
            0..16,
        ).prop_map(|lines| lines.join("\n")), at_least in 1usize..300) {
            let base = "https://cdn.example/a/m.m3u8?token=t";
            let expected = whole(input.as_bytes(), base, Some("host=h.example\n"), usize::MAX);
            let got = pieces(input.as_bytes(), base, Some("host=h.example\n"), usize::MAX, at_least)
                .map(|p| p.concat());
            proptest::prop_assert!(got == expected);
        }

        #[test]
        fn arbitrary_input_never_panics_and_non_uri_lines_survive(input in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::string::string_regex("#EXT[-A-Z]{0,12}:[ -~]{0,40}").unwrap(),
                proptest::string::string_regex("#EXT-X-(KEY|MAP|MEDIA|PART|DEFINE|DATERANGE|SESSION-DATA|CONTENT-STEERING):([A-Z-]{1,10}=(\"[^\"\r\n]{0,12}\"?|[a-z0-9{}$]{0,6}),?){0,4}").unwrap(),
                proptest::string::string_regex("[ -~\t]{0,30}").unwrap(),
                proptest::string::string_regex("[^\n]{0,20}").unwrap(),
            ],
            0..12,
        ), crlf in proptest::collection::vec(proptest::bool::ANY, 12)) {
            let mut text = String::new();
            for (i, l) in input.iter().enumerate() {
                text.push_str(l);
                text.push_str(if crlf[i] { "\r\n" } else { "\n" });
            }
            let out = run(&text, "https://cdn.example/a/m.m3u8?token=t");
            let in_lines: Vec<&str> = text.split('\n').collect();
            let out_lines: Vec<&str> = out.split('\n').collect();
            proptest::prop_assert_eq!(in_lines.len(), out_lines.len());
            for (a, b) in in_lines.iter().zip(&out_lines) {
                if a != b {
                    // Only URI lines and URI-carrying tags change, and they gain a proxy URL.
                    proptest::prop_assert!(b.contains("/api/streaming/proxy/") || b.starts_with("#EXT-X-DEFINE:NAME="), "{:?} → {:?}", a, b);
                    proptest::prop_assert!(!a.trim_start().starts_with('#') || a.starts_with("#EXT"), "{:?}", a);
                    proptest::prop_assert_eq!(a.ends_with('\r'), b.ends_with('\r'));
                }
            }
        }
    }
}
