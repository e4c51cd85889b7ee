//! Cache keys. An upstream body is keyed by its URL *and* everything sealed that shapes the
//! upstream request (its headers, the provider whose host rules let it through), so two
//! credentials, two `Referer`s or two providers never share an entry. A rewritten document
//! also depends on the sealed context its children carry and on the imported variables, so
//! its key adds them: its bytes are exactly what a fresh rewrite would give this request.

use std::fmt;

/// A BLAKE3 hash of what the entry depends on; as a file name it tells nothing of the URL.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", &self.hex()[..12])
    }
}

/// Each field with its length first, so that no two field lists hash alike.
fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

impl Key {
    /// The upstream body of `url` fetched with `headers` for `provider`.
    pub fn object(url: &str, provider: Option<&str>, headers: &[(String, String)]) -> Key {
        let mut h = blake3::Hasher::new();
        field(&mut h, b"sokoul proxy object v1");
        field(&mut h, url.as_bytes());
        field(&mut h, provider.unwrap_or("\0none").as_bytes());
        field(&mut h, &(headers.len() as u64).to_le_bytes());
        for (name, value) in headers {
            field(&mut h, name.as_bytes());
            field(&mut h, value.as_bytes());
        }
        Key(*h.finalize().as_bytes())
    }

    /// The rewritten document of `object` for a request whose children carry `sealed`.
    pub fn document(object: &Key, sealed: &str, vars: Option<&str>) -> Key {
        let mut h = blake3::Hasher::new();
        field(&mut h, b"sokoul proxy document v1");
        field(&mut h, &object.0);
        field(&mut h, sealed.as_bytes());
        field(&mut h, vars.unwrap_or("\0none").as_bytes());
        Key(*h.finalize().as_bytes())
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_different_header_context_or_provider_is_a_different_entry() {
        let url = "https://cdn.example/seg1.ts";
        let a = Key::object(url, Some("stremio"), &h(&[("Referer", "https://a/")]));
        assert_eq!(
            a,
            Key::object(url, Some("stremio"), &h(&[("Referer", "https://a/")]))
        );
        for other in [
            Key::object(url, Some("stremio"), &h(&[("Referer", "https://b/")])),
            Key::object(url, Some("consumet"), &h(&[("Referer", "https://a/")])),
            Key::object(url, None, &h(&[("Referer", "https://a/")])),
            Key::object(url, Some("stremio"), &[]),
            // Field boundaries are not ambiguous.
            Key::object(
                url,
                Some("stremio"),
                &h(&[("Referer", ""), ("https://a/", "")]),
            ),
            Key::object("https://cdn.example/seg2.ts", Some("stremio"), &[]),
        ] {
            assert_ne!(a, other);
        }
        let doc = Key::document(&a, "ctx", None);
        assert_ne!(doc, Key::document(&a, "ctx2", None));
        assert_ne!(doc, Key::document(&a, "ctx", Some("x=1")));
        assert_eq!(a.hex().len(), 64);
    }
}
