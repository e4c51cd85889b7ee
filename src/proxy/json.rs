//! JSON documents named by playlists: content-steering manifests (`EXT-X-CONTENT-STEERING`
//! SERVER-URI) and interstitial asset lists (`X-ASSET-LIST`). Their URIs are rewritten like a
//! playlist's; the proxy knows it holds one from the signed `k=j` of its URL.

use serde_json::{Map, Value};

use super::playlist::{RewriteContext, child_url};
use super::token::Kind;

/// Largest steering manifest or asset list read: real ones are a few kilobytes, a JSON tree
/// takes several times its text in memory, and every URI in it grows into a proxy URL.
pub const MAX_JSON_BYTES: u64 = 1 << 20;

/// Rewrites `RELOAD-URI`, `PATHWAY-CLONES[].URI-REPLACEMENT` and `ASSETS[].URI`.
///
/// A clone's `HOST` (and `PARAMS`) would be applied by the player to the rewritten proxy URLs,
/// sending it to the CDN with a proxy path, so they are removed: the clone then plays the base
/// pathway's streams through the proxy. `PER-VARIANT-URIS` and `PER-RENDITION-URIS` hold
/// absolute URIs and are rewritten.
pub fn rewrite_json(input: &[u8], ctx: RewriteContext<'_>) -> Result<Vec<u8>, serde_json::Error> {
    let mut doc: Value = serde_json::from_slice(input)?;
    if let Value::Object(root) = &mut doc {
        rewrite_string(root, "RELOAD-URI", &ctx, Kind::Json);
        if let Some(Value::Array(clones)) = root.get_mut("PATHWAY-CLONES") {
            for clone in clones {
                let Some(Value::Object(rep)) = clone.get_mut("URI-REPLACEMENT") else {
                    continue;
                };
                rep.remove("HOST");
                rep.remove("PARAMS");
                for key in ["PER-VARIANT-URIS", "PER-RENDITION-URIS"] {
                    if let Some(Value::Object(uris)) = rep.get_mut(key) {
                        let names: Vec<String> = uris.keys().cloned().collect();
                        for name in names {
                            rewrite_string(uris, &name, &ctx, Kind::Media);
                        }
                    }
                }
            }
        }
        if let Some(Value::Array(assets)) = root.get_mut("ASSETS") {
            for asset in assets {
                if let Value::Object(asset) = asset {
                    rewrite_string(asset, "URI", &ctx, Kind::Media);
                }
            }
        }
    }
    serde_json::to_vec(&doc)
}

fn rewrite_string(obj: &mut Map<String, Value>, key: &str, ctx: &RewriteContext<'_>, kind: Kind) {
    if let Some(Value::String(uri)) = obj.get_mut(key) {
        if let Some(url) = child_url(ctx, uri, kind) {
            *uri = url;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::token::{ProxyContext, Signer};
    use url::Url;

    #[test]
    fn steering_and_asset_list_uris_are_rewritten_and_clone_hosts_removed() {
        let signer = Signer::new(b"k");
        let sealed = signer.seal(&ProxyContext {
            headers: vec![],
            expires: 10,
            provider: None,
        });
        let base = Url::parse("https://steer.example/v1/manifest.json").unwrap();
        let ctx = RewriteContext {
            signer: &signer,
            sealed: &sealed,
            base: &base,
            imported: None,
            max_output: usize::MAX,
        };
        let out = rewrite_json(
            br#"{"VERSION":1,"TTL":300,"RELOAD-URI":"next.json?s=1","PATHWAY-PRIORITY":["A","B"],
                "PATHWAY-CLONES":[{"BASE-ID":"A","ID":"C","URI-REPLACEMENT":{"HOST":"c.example","PARAMS":{"x":"1"},
                "PER-VARIANT-URIS":{"v1":"https://c.example/v1.m3u8"}}}],
                "ASSETS":[{"URI":"../ads/1.m3u8","DURATION":10},{"URI":"skd://nope","DURATION":1}]}"#,
            ctx,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert!(v["RELOAD-URI"].as_str().unwrap().contains("&k=j&s="));
        let rep = &v["PATHWAY-CLONES"][0]["URI-REPLACEMENT"];
        assert!(rep.get("HOST").is_none() && rep.get("PARAMS").is_none());
        assert!(
            rep["PER-VARIANT-URIS"]["v1"]
                .as_str()
                .unwrap()
                .starts_with("/api/streaming/proxy/")
        );
        assert!(
            v["ASSETS"][0]["URI"]
                .as_str()
                .unwrap()
                .starts_with("/api/streaming/proxy/")
        );
        assert_eq!(v["ASSETS"][1]["URI"], "skd://nope");
        assert_eq!(v["PATHWAY-PRIORITY"], serde_json::json!(["A", "B"]));
        assert!(rewrite_json(b"<html>", ctx).is_err());
    }
}
