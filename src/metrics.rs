//! Prometheus metrics, one registry per application (tests run several apps in one process).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The matched route template, never the raw path: keeps the label's cardinality low
    /// and signed proxy tokens out of the metrics.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub provider: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProxyLabels {
    /// `playlist`, `segment` or `error`.
    pub kind: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TierLabels {
    /// `memory` (this instance) or `redis` (shared).
    pub tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RedisOpLabels {
    /// `get`, `put`, `lock`, `unlock`, `ping` or `probe` (the background reconnection).
    pub op: String,
    /// `error` or `timeout` (the budget ran out).
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpLabels {
    pub op: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LockLabels {
    /// `acquired`, `waited` (another instance's answer was used), `timed_out` or
    /// `unavailable` (Redis out of use: resolved without the lock).
    pub result: String,
}

/// The shared tier and cross-instance coordination (docs/scaling.md).
#[derive(Debug)]
pub struct ScaleMetrics {
    /// 1 while the tier is in use, 0 while it is bypassed; only tiers that exist have a series.
    pub tier_up: Family<TierLabels, Gauge>,
    pub tier_hits: Family<TierLabels, Counter>,
    pub redis_errors: Family<RedisOpLabels, Counter>,
    /// Operations that skipped Redis because it was out of use.
    pub redis_fallbacks: Family<OpLabels, Counter>,
    pub lock: Family<LockLabels, Counter>,
}

impl ScaleMetrics {
    fn register(registry: &mut Registry) -> Self {
        ScaleMetrics {
            tier_up: registered(
                registry,
                "cache_tier_up",
                "Whether a cache tier is in use (redis: 0 while it is unreachable and bypassed)",
                Family::default(),
            ),
            tier_hits: registered(
                registry,
                "cache_tier_hits",
                "Resolution cache hits by the tier that answered",
                Family::default(),
            ),
            redis_errors: registered(
                registry,
                "redis_errors",
                "Redis operations that failed or ran out of their time budget",
                Family::default(),
            ),
            redis_fallbacks: registered(
                registry,
                "redis_fallbacks",
                "Operations that skipped Redis while it was out of use (served in process)",
                Family::default(),
            ),
            lock: registered(
                registry,
                "resolve_lock",
                "Cross-instance resolve lock: acquired, waited, timed_out, unavailable",
                Family::default(),
            ),
        }
    }

    pub fn lock_result(&self, result: &str) {
        self.lock
            .get_or_create(&LockLabels {
                result: result.into(),
            })
            .inc();
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EdgeLookupLabels {
    /// `segment` (any body relayed unchanged), `playlist` (as the upstream sent it) or
    /// `document` (rewritten); a miss is counted once its body tells which.
    pub kind: String,
    /// `hit_memory`, `hit_disk` or `miss`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EdgeEvictionLabels {
    pub kind: String,
    /// `memory` (spilled to disk when there is a disk tier) or `disk` (deleted).
    pub tier: String,
}

/// The proxy as an edge: its shared cache, coalesced fetches and resumes (`proxy::edge`).
#[derive(Debug)]
pub struct EdgeMetrics {
    pub lookups: Family<EdgeLookupLabels, Counter>,
    pub evictions: Family<EdgeEvictionLabels, Counter>,
    /// Body bytes received from upstreams, to set against `proxy_relayed_bytes`.
    pub upstream_bytes: Counter,
    /// Requests that joined a fetch already running for the same object.
    pub coalesced: Counter,
    /// Upstream bodies continued with `Range` after breaking off.
    pub resumes: Counter,
    /// Read-ahead fetches, by `result`: `started`, `used` (a viewer asked for the object
    /// before it left the cache) or `wasted` (it left unasked).
    pub read_ahead: Family<CacheLabels, Counter>,
    /// Players' reports of failing sources, by stage.
    pub reports: Family<ReportLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReportLabels {
    /// `manifest`, `segment`, `decode` or `timeout`.
    pub stage: String,
}

impl EdgeMetrics {
    fn register(registry: &mut Registry) -> Self {
        EdgeMetrics {
            lookups: registered(
                registry,
                "proxy_cache_lookups",
                "Proxy cache lookups by kind and result (hit_memory, hit_disk, miss)",
                Family::default(),
            ),
            evictions: registered(
                registry,
                "proxy_cache_evictions",
                "Proxy cache entries evicted for room, by kind and tier",
                Family::default(),
            ),
            upstream_bytes: registered(
                registry,
                "proxy_upstream_bytes",
                "Body bytes the proxy received from upstreams",
                Counter::default(),
            ),
            coalesced: registered(
                registry,
                "proxy_coalesced_waiters",
                "Proxy requests served by another request's upstream fetch while it ran",
                Counter::default(),
            ),
            resumes: registered(
                registry,
                "proxy_resumes",
                "Upstream bodies resumed with Range after the connection broke",
                Counter::default(),
            ),
            read_ahead: registered(
                registry,
                "proxy_read_ahead",
                "Segments fetched ahead of the viewers: started, used, wasted",
                Family::default(),
            ),
            reports: registered(
                registry,
                "source_reports",
                "Players' reports of failing sources, by stage",
                Family::default(),
            ),
        }
    }

    pub fn lookup(&self, kind: &str, result: &str) {
        self.lookups
            .get_or_create(&EdgeLookupLabels {
                kind: kind.into(),
                result: result.into(),
            })
            .inc();
    }

    pub fn read_ahead(&self, result: &str) {
        self.read_ahead
            .get_or_create(&CacheLabels {
                result: result.into(),
            })
            .inc();
    }

    pub fn report(&self, stage: &str) {
        self.reports
            .get_or_create(&ReportLabels {
                stage: stage.into(),
            })
            .inc();
    }

    pub fn evicted(&self, kind: &str, tier: &str) {
        self.evictions
            .get_or_create(&EdgeEvictionLabels {
                kind: kind.into(),
                tier: tier.into(),
            })
            .inc();
    }
}

/// Registers `metric` under `name` and hands it back for the struct that updates it.
fn registered<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    registry.register(name, help, metric.clone());
    metric
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CircuitLabels {
    pub provider: String,
    /// `closed`, `open` or `half_open`.
    pub state: String,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    pub scale: ScaleMetrics,
    pub edge: EdgeMetrics,
    pub http_requests: Family<RequestLabels, Counter>,
    pub http_latency: Family<RouteLabels, Histogram>,
    pub resolve_outcomes: Family<OutcomeLabels, Counter>,
    pub cache: Family<CacheLabels, Counter>,
    pub proxy_responses: Family<ProxyLabels, Counter>,
    pub proxy_bytes: Counter,
    pub proxy_active: Gauge,
    pub proxy_retries: Counter,
    /// 1 for the state each provider's circuit breaker is in, 0 for the others.
    pub provider_circuit: Family<CircuitLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sokoul");
        let http_requests = registered(
            &mut registry,
            "http_requests",
            "HTTP requests by route, method and status",
            Family::<RequestLabels, Counter>::default(),
        );
        let http_latency = registered(
            &mut registry,
            "http_request_duration_seconds",
            "Time to the response headers, by route",
            Family::<RouteLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_25, 2.0, 18))
            }),
        );
        let resolve_outcomes = registered(
            &mut registry,
            "resolve_outcomes",
            "Provider outcomes of uncached resolves (ok, empty, error, timeout)",
            Family::<OutcomeLabels, Counter>::default(),
        );
        let cache = registered(
            &mut registry,
            "resolve_cache",
            "Resolution cache hits and misses",
            Family::<CacheLabels, Counter>::default(),
        );
        let proxy_responses = registered(
            &mut registry,
            "proxy_responses",
            "Proxy responses by kind and status",
            Family::<ProxyLabels, Counter>::default(),
        );
        let proxy_bytes = registered(
            &mut registry,
            "proxy_relayed_bytes",
            "Body bytes relayed by the proxy",
            Counter::default(),
        );
        let proxy_active = registered(
            &mut registry,
            "proxy_active_streams",
            "Proxy bodies being relayed now",
            Gauge::default(),
        );
        let scale = ScaleMetrics::register(&mut registry);
        let edge = EdgeMetrics::register(&mut registry);
        let proxy_retries = registered(
            &mut registry,
            "proxy_upstream_retries",
            "Upstream fetches tried again after a failure before any byte was relayed",
            Counter::default(),
        );
        let provider_circuit = registered(
            &mut registry,
            "provider_circuit_state",
            "Circuit breaker state per provider: 1 for the current state (closed, open, half_open)",
            Family::<CircuitLabels, Gauge>::default(),
        );
        Metrics {
            registry: Mutex::new(registry),
            scale,
            edge,
            http_requests,
            http_latency,
            resolve_outcomes,
            cache,
            proxy_responses,
            proxy_bytes,
            proxy_active,
            proxy_retries,
            provider_circuit,
        }
    }

    pub fn cache_result(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache
            .get_or_create(&CacheLabels {
                result: result.into(),
            })
            .inc();
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}
