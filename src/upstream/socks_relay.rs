//! How the providers' reqwest client reaches the outbound proxy without giving up the guard.
//!
//! reqwest takes no connector under its TLS (its `connector_layer` wraps the whole connection,
//! TLS included), and its own HTTP-proxy support sends `CONNECT name:port`, which lets the
//! proxy resolve the name. Its `socks5://` support, though, resolves names with the client's
//! resolver (the guarded one) and sends the checked address. So the client talks SOCKS5 to
//! this relay on loopback; the relay opens the tunnel through the configured proxy
//! ([`Outbound::dial`]) and copies bytes. TLS still runs end to end, from reqwest to the
//! upstream. For a `socks5h` proxy, reqwest sends the name instead and the relay passes it on
//! (after the guard's literal checks).
//!
//! The relay accepts only clients that present its per-process random password, so another
//! local process cannot use it as an open proxy carrying the operator's proxy credentials.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::outbound::{DialError, Outbound, Target};

const USER: &str = "sokoul";

/// The client's greeting, authentication and request are a few hundred bytes at most; a
/// client that has not sent them within this is not reqwest.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("not a SOCKS5 client, or an unsupported request")]
    Protocol,
    #[error("wrong relay password")]
    Auth,
    #[error("the client was too slow")]
    Timeout,
    #[error("the client connection failed")]
    Io(#[from] std::io::Error),
}

/// Starts the relay on an ephemeral loopback port and returns the proxy URL reqwest uses
/// (`socks5://sokoul:<password>@127.0.0.1:<port>`, `socks5h://…` for a `socks5h` proxy).
/// Must run inside the Tokio runtime; the relay lives as long as the process.
pub fn spawn(outbound: Arc<Outbound>) -> std::io::Result<url::Url> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let listener = TcpListener::from_std(listener)?;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let password: Arc<str> = bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into();
    let scheme = match outbound.kind() {
        super::outbound::Kind::Socks5h => "socks5h",
        _ => "socks5",
    };
    let url = url::Url::parse(&format!("{scheme}://{USER}:{password}@127.0.0.1:{port}"))
        .expect("a valid relay URL");
    tokio::spawn(accept_loop(listener, outbound, password));
    Ok(url)
}

async fn accept_loop(listener: TcpListener, outbound: Arc<Outbound>, password: Arc<str>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors, say: the next accept may succeed.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let (outbound, password) = (outbound.clone(), password.clone());
        tokio::spawn(async move {
            if let Err(e) = relay(client, &outbound, &password).await {
                tracing::debug!(error = %e, "outbound proxy relay: connection ended");
            }
        });
    }
}

async fn relay(
    mut client: TcpStream,
    outbound: &Outbound,
    password: &str,
) -> Result<(), RelayError> {
    let target = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&mut client, password))
        .await
        .map_err(|_| RelayError::Timeout)??;
    match outbound.dial(target).await {
        Ok(upstream) => {
            client.write_all(&reply(0x00)).await?;
            let mut upstream = TokioIo::new(upstream);
            tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        }
        Err(e) => {
            // 0x02 "not allowed by ruleset" for the guard, 0x01 "general failure" otherwise.
            let code = if matches!(e, DialError::Destination(_)) {
                0x02
            } else {
                0x01
            };
            client.write_all(&reply(code)).await?;
            let cause = std::error::Error::source(&e).map(ToString::to_string);
            tracing::warn!(error = %e, cause = cause.as_deref(), "outbound proxy: no tunnel");
        }
    }
    Ok(())
}

fn reply(code: u8) -> [u8; 10] {
    [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

/// RFC 1928 with RFC 1929 username/password authentication, CONNECT only.
async fn handshake(client: &mut TcpStream, password: &str) -> Result<Target, RelayError> {
    let [version, methods] = read_array(client).await?;
    let mut offered = vec![0u8; methods as usize];
    client.read_exact(&mut offered).await?;
    if version != 5 || !offered.contains(&2) {
        client.write_all(&[5, 0xff]).await?;
        return Err(RelayError::Protocol);
    }
    client.write_all(&[5, 2]).await?;
    let [_, user_len] = read_array(client).await?;
    let user = read_vec(client, user_len).await?;
    let [pass_len] = read_array(client).await?;
    let pass = read_vec(client, pass_len).await?;
    if user != USER.as_bytes() || pass != password.as_bytes() {
        client.write_all(&[1, 1]).await?;
        return Err(RelayError::Auth);
    }
    client.write_all(&[1, 0]).await?;
    let [version, command, _, kind] = read_array(client).await?;
    if version != 5 || command != 1 {
        client.write_all(&reply(0x07)).await?;
        return Err(RelayError::Protocol);
    }
    let host = match kind {
        1 => Ok(IpAddr::V4(Ipv4Addr::from(read_array::<4>(client).await?))),
        4 => Ok(IpAddr::V6(Ipv6Addr::from(read_array::<16>(client).await?))),
        3 => {
            let [len] = read_array(client).await?;
            let name = read_vec(client, len).await?;
            Err(String::from_utf8(name).map_err(|_| RelayError::Protocol)?)
        }
        _ => return Err(RelayError::Protocol),
    };
    let port = u16::from_be_bytes(read_array(client).await?);
    Ok(match host {
        // reqwest resolved the name with the guarded resolver: the address is checked.
        Ok(ip) => Target::Checked(SocketAddr::new(ip, port)),
        Err(name) => Target::Host(name, port),
    })
}

async fn read_array<const N: usize>(client: &mut TcpStream) -> std::io::Result<[u8; N]> {
    let mut buf = [0u8; N];
    client.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn read_vec(client: &mut TcpStream, len: u8) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    client.read_exact(&mut buf).await?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, UpstreamSettings};
    use crate::upstream::guard::Guard;
    use crate::upstream::outbound::ProxyConfig;

    async fn exchange(port: u16, messages: &[&[u8]]) -> Vec<u8> {
        let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        for message in messages {
            client.write_all(message).await.unwrap();
        }
        let mut answer = Vec::new();
        let read = client.read_to_end(&mut answer);
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the relay answers and closes")
            .unwrap();
        answer
    }

    #[tokio::test]
    async fn only_a_client_with_the_relay_password_gets_a_tunnel_request_through() {
        // A proxy that is not there: the relay can only answer "general failure" once in.
        let settings = UpstreamSettings {
            proxy: Some(Secret::new("socks5://127.0.0.1:9")),
            ..Default::default()
        };
        let config = ProxyConfig::parse(&settings).unwrap().unwrap();
        let outbound = Outbound::new(config, Arc::new(Guard::allow_all()), Duration::from_secs(5));
        let url = spawn(Arc::new(outbound.unwrap())).unwrap();
        let (port, password) = (url.port().unwrap(), url.password().unwrap().to_string());
        assert_eq!(url.host_str(), Some("127.0.0.1"));

        // No authentication offered: refused.
        assert_eq!(exchange(port, &[&[5, 1, 0]]).await, [5, 0xff]);
        // A wrong password: refused before any request is read.
        let auth = |pass: &str| {
            [
                &[1, 6][..],
                USER.as_bytes(),
                &[pass.len() as u8],
                pass.as_bytes(),
            ]
            .concat()
        };
        assert_eq!(
            exchange(port, &[&[5, 1, 2], &auth("wrong")]).await,
            [5, 2, 1, 1]
        );
        // The right one: the request reaches the outbound proxy, which is not there.
        let request = [5, 1, 0, 1, 203, 0, 113, 7, 1, 187];
        let answer = exchange(port, &[&[5, 1, 2], &auth(&password), &request]).await;
        assert_eq!(answer, [&[5, 2, 1, 0][..], &reply(0x01)].concat());
    }
}
