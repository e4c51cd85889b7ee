//! The proxy client's TCP connector: direct through the guarded resolver, or through the
//! outbound proxy for the hosts its rules send there. TLS to the upstream is layered on top
//! (hyper-rustls), so it runs end to end through a tunnel with the URL's own name.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::Uri;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::client::legacy::connect::HttpConnector;

use super::guard::GuardedHyperResolver;
use super::outbound::{Outbound, ProxyStream, Target};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Debug)]
pub struct OutboundConnector {
    direct: HttpConnector<GuardedHyperResolver>,
    outbound: Option<Arc<Outbound>>,
}

impl OutboundConnector {
    pub fn new(
        direct: HttpConnector<GuardedHyperResolver>,
        outbound: Option<Arc<Outbound>>,
    ) -> Self {
        OutboundConnector { direct, outbound }
    }
}

impl tower::Service<Uri> for OutboundConnector {
    /// A direct connection is the `Http` variant: one type for both routes.
    type Response = ProxyStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<ProxyStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let host = uri.host().unwrap_or_default();
        match &self.outbound {
            Some(outbound) if outbound.routes(host) => {
                let outbound = outbound.clone();
                let default_port = if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                };
                let target = Target::Host(host.to_string(), uri.port_u16().unwrap_or(default_port));
                Box::pin(async move { Ok(outbound.dial(target).await?) })
            }
            _ => {
                let connecting = self.direct.call(uri);
                Box::pin(async move { Ok(MaybeHttpsStream::Http(connecting.await?)) })
            }
        }
    }
}
