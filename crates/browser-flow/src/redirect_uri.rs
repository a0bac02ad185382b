//! The `redirect_uri` a caller may configure: which loopback host and port the redirect
//! server binds, the path the response must arrive on, and the exact text sent (Python's
//! rules, and a few of ours: http, loopback only, no user information, query or fragment).

use entra_core::{Error, Result};
use url::Url;

/// A loopback host the redirect server binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoopbackHost {
    /// `localhost`: 127.0.0.1, plus ::1 on the same port when possible.
    Localhost,
    /// `127.0.0.1` only.
    Ipv4,
    /// `[::1]` only.
    Ipv6,
}

/// A validated redirect target: where to listen and what to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RedirectTarget {
    pub(crate) host: LoopbackHost,
    /// `None`: scan 8400-8999.
    pub(crate) port: Option<u16>,
    /// The path the response must arrive on.
    pub(crate) path: String,
    /// The URI sent on the authorize and token requests (`None`: built from the bound port).
    pub(crate) uri: Option<String>,
}

impl RedirectTarget {
    /// Python's default: `http://localhost:<first free port of 8400-8999>`.
    pub(crate) fn default_scan() -> Self {
        Self {
            host: LoopbackHost::Localhost,
            port: None,
            path: "/".to_owned(),
            uri: None,
        }
    }
}

const REDIRECT_URI_NEEDS_PORT: &str =
    "\"redirect_uri\" must be a URL with port number, for example \"http://localhost:8400\"";

/// Validates a configured `redirect_uri`.
pub(crate) fn parse_redirect_uri(value: &str) -> Result<RedirectTarget> {
    let value = value.trim();
    let url = Url::parse(value)
        .map_err(|e| Error::invalid_argument(REDIRECT_URI_NEEDS_PORT).with_source(e))?;
    let Some(host) = url.host_str() else {
        return Err(Error::invalid_argument(REDIRECT_URI_NEEDS_PORT));
    };
    let port = match url.port_or_known_default() {
        // An explicit port only: `http://localhost` has none (Python's rule).
        Some(p) if p != 0 && url.port().is_some() => p,
        _ => return Err(Error::invalid_argument(REDIRECT_URI_NEEDS_PORT)),
    };
    if url.scheme() != "http" {
        return Err(Error::invalid_argument(format!(
            "\"redirect_uri\" must use http, for example \"http://localhost:{port}\": the \
             credential receives the redirect over plain HTTP on the loopback interface."
        )));
    }
    let host = match host.to_ascii_lowercase().as_str() {
        "localhost" => LoopbackHost::Localhost,
        "127.0.0.1" => LoopbackHost::Ipv4,
        "[::1]" => LoopbackHost::Ipv6,
        _ => {
            return Err(Error::invalid_argument(
                "\"redirect_uri\" must name a loopback host (localhost, 127.0.0.1 or [::1]), for \
                 example \"http://localhost:8400\": the credential listens on this machine only.",
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_argument(
            "\"redirect_uri\" must not contain user information.",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid_argument(
            "\"redirect_uri\" must not have a query or a fragment.",
        ));
    }
    Ok(RedirectTarget {
        host,
        port: Some(port),
        path: url.path().to_owned(),
        uri: Some(value.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rejected_redirect_uris() {
        for bad in [
            "http://localhost",
            "host",
            "host:42",
            "http://localhost:0",
            "localhost:8400",
        ] {
            let err = parse_redirect_uri(bad).unwrap_err();
            assert!(err.is_invalid_argument(), "{bad}");
            assert_eq!(err.message(), REDIRECT_URI_NEEDS_PORT, "{bad}");
        }
    }

    #[test]
    fn only_http_loopback_without_query() {
        for bad in [
            "https://localhost:42424",
            "http://example.com:8400",
            "http://0.0.0.0:8400",
            "http://user:pw@localhost:8400",
            "http://localhost:8400/?x=1",
            "http://localhost:8400/#f",
        ] {
            assert!(
                parse_redirect_uri(bad).unwrap_err().is_invalid_argument(),
                "{bad}"
            );
        }
    }

    #[test]
    fn path_and_exact_text_are_kept() {
        let t = parse_redirect_uri("http://localhost:42424/auth/callback").unwrap();
        assert_eq!(t.port, Some(42424));
        assert_eq!(t.host, LoopbackHost::Localhost);
        assert_eq!(t.path, "/auth/callback");
        assert_eq!(
            t.uri.as_deref(),
            Some("http://localhost:42424/auth/callback")
        );
        let t = parse_redirect_uri("http://127.0.0.1:8400").unwrap();
        assert_eq!((t.host, t.path.as_str()), (LoopbackHost::Ipv4, "/"));
        assert_eq!(t.uri.as_deref(), Some("http://127.0.0.1:8400"));
        let t = parse_redirect_uri("http://[::1]:8400/x").unwrap();
        assert_eq!(t.host, LoopbackHost::Ipv6);
    }
}
