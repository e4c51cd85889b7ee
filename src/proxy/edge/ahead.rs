//! Read-ahead: when a viewer asks for segment N of a VOD playlist the edge has seen, segments
//! N+1…N+`proxy.read_ahead` are fetched into the cache in the background, so that a slow
//! upstream has a segment's time to deliver the next one (MediaFlow Proxy's users ask for
//! this "pre-buffer" because remote servers are slow: its issues 88 and 210).
//!
//! It stays modest: only segments of a playlist that cannot change, only on a viewer's
//! request (nothing runs on once viewers stop asking), at most [`IN_FLIGHT`] fetches at
//! once, each taking a slot of the upstream host's limit as a client of its own (so
//! read-ahead has at most half of a host's slots, never a viewer's share), into the same
//! bounded cache as everything else.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use super::Lane;
use super::key::Key;
use crate::proxy::playlist::resolve;

/// Who read-ahead is to the host limit: one client of its own.
pub const CLIENT: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
/// Read-ahead fetches in flight at once, all viewers together.
pub const IN_FLIGHT: usize = 8;
/// Segments indexed per playlist: ten hours of 2-second segments.
const MAX_SEGMENTS: usize = 20_000;

/// A VOD media playlist's segments, in order, with the context its children inherit.
#[derive(Debug)]
struct Sequence {
    keys: Vec<Key>,
    urls: Vec<Url>,
    /// The playlist's lane: its provider, sealed headers and expiry.
    parent: Lane,
}

#[derive(Debug)]
pub struct ReadAhead {
    depth: usize,
    positions: Cache<Key, (Arc<Sequence>, usize)>,
    slots: Arc<Semaphore>,
}

impl ReadAhead {
    pub fn new(depth: usize) -> ReadAhead {
        ReadAhead {
            depth,
            // Key, Arc and index: under 100 bytes an entry.
            positions: Cache::builder()
                .max_capacity(200_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }

    /// Remembers where each segment of a VOD media playlist is, so that a request for one
    /// knows the next ones.
    pub fn index(&self, parent: &Lane, base: &Url, body: &[u8]) {
        if self.depth == 0 {
            return;
        }
        let Some(uris) = segment_uris(body) else {
            return;
        };
        let (context, provider) = (&parent.headers, parent.provider.as_deref());
        let urls: Vec<Url> = uris
            .filter_map(|u| resolve(base, u))
            .take(MAX_SEGMENTS)
            .collect();
        let keys = urls
            .iter()
            .map(|u| Key::object(u.as_str(), provider, context))
            .collect();
        let sequence = Arc::new(Sequence {
            keys,
            urls,
            parent: parent.clone(),
        });
        for (i, key) in sequence.keys.iter().enumerate() {
            self.positions.insert(*key, (sequence.clone(), i));
        }
    }

    /// The lanes of the segments after `key`, while the playlist's URL is valid.
    pub fn next(&self, key: &Key, now: u64) -> Vec<Lane> {
        let Some((sequence, i)) = self.positions.get(key) else {
            return Vec::new();
        };
        let parent = &sequence.parent;
        if parent.expires <= now {
            return Vec::new();
        }
        let ahead = (i + 1..sequence.keys.len()).take(self.depth);
        ahead
            .map(|j| Lane {
                object: sequence.keys[j],
                document: sequence.keys[j],
                range: None,
                url: sequence.urls[j].clone(),
                client: CLIENT,
                ..parent.clone()
            })
            .collect()
    }

    /// A slot for one more fetch, if one is free now (read-ahead never waits).
    pub fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }
}

/// The segment URIs of a media playlist, or `None` when read-ahead cannot name them: no
/// `EXTINF`, byte ranges (the "segments" are one file), or `EXT-X-DEFINE` substitutions.
fn segment_uris(body: &[u8]) -> Option<impl Iterator<Item = &str>> {
    let has = |tag: &[u8]| memchr::memmem::find(body, tag).is_some();
    if !has(b"#EXTINF") || has(b"#EXT-X-BYTERANGE") || has(b"{$") {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(url: &str) -> Lane {
        let headers = vec![("Referer".to_string(), "https://a/".to_string())];
        let object = Key::object(url, Some("stremio"), &headers);
        Lane {
            object,
            document: object,
            expires: 100,
            range: None,
            url: Url::parse(url).unwrap(),
            provider: Some("stremio".into()),
            headers,
            client: IpAddr::from([192, 0, 2, 1]),
        }
    }

    const VOD: &[u8] = b"#EXTM3U\n#EXTINF:4,\ns0.ts\n#EXTINF:4,\ns1.ts\n#EXTINF:4,\nhttps://cdn2.example/s2.ts\n#EXTINF:4,\ns3.ts\n#EXT-X-ENDLIST\n";

    #[test]
    fn the_next_segments_inherit_the_playlists_context_up_to_the_depth() {
        let playlist = lane("https://cdn.example/v/index.m3u8");
        let ahead = ReadAhead::new(2);
        ahead.index(&playlist, &playlist.url, VOD);
        let s0 = lane("https://cdn.example/v/s0.ts");
        let next = ahead.next(&s0.object, 50);
        let urls: Vec<&str> = next.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            ["https://cdn.example/v/s1.ts", "https://cdn2.example/s2.ts"]
        );
        // The key a viewer's request for that segment computes.
        assert_eq!(next[0].object, lane("https://cdn.example/v/s1.ts").object);
        assert_eq!((next[0].client, next[0].expires), (CLIENT, 100));
        assert_eq!(
            ahead
                .next(&lane("https://cdn.example/v/s3.ts").object, 50)
                .len(),
            0
        );
        // Not past the playlist URL's expiry; not at all with a depth of 0.
        assert!(ahead.next(&s0.object, 100).is_empty());
        let off = ReadAhead::new(0);
        off.index(&playlist, &playlist.url, VOD);
        assert!(off.next(&s0.object, 50).is_empty());
    }

    #[test]
    fn only_plain_media_playlists_name_their_segments() {
        let vod = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\na.ts\n\n#EXTINF:4,\r\n b.ts \n#EXT-X-ENDLIST\n";
        let got: Vec<&str> = segment_uris(vod).unwrap().collect();
        assert_eq!(got, ["a.ts", "b.ts"]);
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n";
        let ranges = b"#EXTM3U\n#EXTINF:4,\n#EXT-X-BYTERANGE:100@0\nall.ts\n";
        let vars = b"#EXTM3U\n#EXT-X-DEFINE:NAME=\"t\",VALUE=\"1\"\n#EXTINF:4,\na.ts?{$t}\n";
        for body in [&master[..], ranges, vars] {
            assert!(segment_uris(body).is_none());
        }
    }
}
