//! Who is asking: the client address a request is counted against by the per-client rate
//! limits. The TCP peer's address, or, behind a reverse proxy, the address the proxy puts in its
//! header, believed only when the peer is a trusted proxy (otherwise any client could name its
//! own address and dodge its limit).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::config::ClientAddresses;
use crate::state::AppState;

/// The TCP peer of the connection a request came on (a request extension set when serving).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// What the per-client limits count: an IPv4 address, or an IPv6 /64 (the block one subscriber
/// gets, so that walking through it does not make new clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V6(v6) => {
                let segments = v6.segments();
                Self(IpAddr::V6(Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                )))
            }
            v4 => Self(v4),
        }
    }

    pub fn address(&self) -> IpAddr {
        self.0
    }
}

#[derive(Debug, Clone)]
pub struct ClientResolver {
    header: Option<HeaderName>,
    trusted: Vec<IpNet>,
}

impl ClientResolver {
    /// From validated settings (see [`crate::GatewayConfig::validate`]); anything unparsable
    /// is left out.
    pub fn new(settings: &ClientAddresses) -> Self {
        Self {
            header: settings
                .trusted_proxy_header
                .as_deref()
                .and_then(|name| HeaderName::from_bytes(name.as_bytes()).ok()),
            trusted: settings.trusted_proxies().unwrap_or_default(),
        }
    }

    fn is_trusted(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.trusted.iter().any(|block| block.contains(&address))
    }

    /// The client of a request that came from `peer` (none when the router is driven without
    /// a connection, as some tests do: all such requests are one client).
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientKey {
        let peer = peer.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let Some(header) = &self.header else {
            return ClientKey::of(peer);
        };
        if !self.is_trusted(peer) {
            return ClientKey::of(peer);
        }
        // Proxies append: the last address that is not one of ours is the client. Several
        // header lines count as one list, in order.
        let listed: Vec<IpAddr> = headers
            .get_all(header)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(parse_address)
            .collect();
        let client = listed
            .iter()
            .rev()
            .find(|address| !self.is_trusted(**address))
            .or(listed.first())
            .copied()
            .unwrap_or(peer);
        ClientKey::of(client)
    }
}

/// One entry of a forwarding header: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
}

/// The client of a request, as an extractor.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub ClientKey);

impl FromRequestParts<AppState> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts.extensions.get::<PeerAddr>().map(|peer| peer.0.ip());
        Ok(Self(state.clients.client(peer, &parts.headers)))
    }
}

/// Middleware in front of the customer API: the per-client limit, before any handler (and so
/// before the workspace limit) runs.
pub async fn limit_clients(
    State(state): State<AppState>,
    Client(client): Client,
    request: Request,
    next: Next,
) -> Response {
    match state.limiters.client(client) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(header: Option<&str>, trusted: &[&str]) -> ClientResolver {
        ClientResolver::new(&ClientAddresses {
            trusted_proxy_header: header.map(str::to_string),
            trusted_proxies: trusted.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_a_trusted_proxy_header_the_peer_is_the_client_whatever_the_headers_say() {
        let resolver = resolver(None, &[]);
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(
            resolver.client(Some(ip("203.0.113.7")), &spoofed).address(),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn the_header_counts_only_when_a_trusted_proxy_sent_it() {
        let resolver = resolver(Some("x-forwarded-for"), &["10.0.0.0/8", "127.0.0.1"]);
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(
            resolver.client(Some(ip("10.1.2.3")), &forwarded).address(),
            ip("198.51.100.1")
        );
        assert_eq!(
            resolver
                .client(Some(ip("203.0.113.7")), &forwarded)
                .address(),
            ip("203.0.113.7"),
            "a client talking to us directly cannot pick its address"
        );
    }

    #[test]
    fn the_last_untrusted_address_of_the_chain_is_the_client() {
        let resolver = resolver(Some("x-forwarded-for"), &["10.0.0.0/8"]);
        // The client wrote the first entry itself; our proxies appended the rest.
        let chain = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.1"),
            ("x-forwarded-for", "10.0.0.5"),
        ]);
        assert_eq!(
            resolver.client(Some(ip("10.0.0.9")), &chain).address(),
            ip("198.51.100.1")
        );
        let garbage = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(
            resolver.client(Some(ip("10.0.0.9")), &garbage).address(),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64_and_a_mapped_ipv4_is_the_ipv4() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")),
            ClientKey::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:203.0.113.7")).address(),
            ip("203.0.113.7")
        );
        let resolver = resolver(Some("x-real-ip"), &["::1"]);
        let real = headers(&[("x-real-ip", "[2001:db8::7]:4711")]);
        assert_eq!(
            resolver.client(Some(ip("::1")), &real),
            ClientKey::of(ip("2001:db8::7"))
        );
    }
}
