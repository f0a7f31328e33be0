//! The registry's HTTP API v2, as far as pulling needs it: GET with anonymous token
//! authentication. A request answered 401 with `WWW-Authenticate: Bearer realm=…,
//! service=…,scope=…` is retried once with a token fetched anonymously from the realm,
//! as registries (Docker Hub, ghcr.io, …) expect from a client without credentials.
//!
//! Everything the registry sends is hostile: bodies read into memory are bounded, the
//! challenge is parsed without trusting its shape, and a realm may not downgrade to plain
//! HTTP unless plain HTTP was allowed for the registry itself.

use std::io::Read;
use std::time::Duration;
use ureq::http::Response;
use ureq::tls::TlsConfig;
use ureq::Body;

/// How large a token response may be: real ones are a few kilobytes.
const TOKEN_LIMIT: u64 = 1 << 20;

/// A connection to one registry's API.
pub struct Registry {
    agent: ureq::Agent,
    host: String,
    /// The schemes still possible, best first: `https` alone, or `https` then `http`
    /// when plain HTTP is allowed; narrowed to the one that answered.
    schemes: Vec<&'static str>,
    token: Option<String>,
}

impl Registry {
    /// A client of the registry API at `host` (`registry-1.docker.io`, `127.0.0.1:5000`).
    /// With `tls_verify` false, certificates are not checked and plain HTTP is allowed,
    /// as skopeo's `--tls-verify=false`; a loopback host may always speak plain HTTP,
    /// as Docker treats it.
    pub fn new(host: &str, tls_verify: bool) -> Registry {
        let tls = TlsConfig::builder()
            .disable_verification(!tls_verify)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("stowage/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let plain_allowed = !tls_verify || is_loopback(host);
        Registry {
            agent,
            host: host.to_owned(),
            schemes: if plain_allowed {
                vec!["https", "http"]
            } else {
                vec!["https"]
            },
            token: None,
        }
    }

    /// GETs `/v2/<path>` accepting `accept`, authenticating with a token when the
    /// registry asks for one. Any status comes back; the caller says what it means.
    pub fn get(&mut self, path: &str, accept: &str) -> Result<Response<Body>, String> {
        let response = self.send(path, accept)?;
        if response.status() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let params = bearer_challenge(challenge).ok_or_else(|| {
            format!(
                "the registry wants credentials ({}), and stowage pulls anonymously only",
                shorten(challenge)
            )
        })?;
        self.token = Some(self.fetch_token(&params)?);
        let response = self.send(path, accept)?;
        if response.status() == 401 {
            return Err(format!(
                "the registry refused the anonymous token for /v2/{path}: the image is private or does not exist"
            ));
        }
        Ok(response)
    }

    /// Sends one GET, trying the schemes still possible in order; the first that
    /// connects is kept for every later request.
    fn send(&mut self, path: &str, accept: &str) -> Result<Response<Body>, String> {
        let mut last_error = String::new();
        for scheme in self.schemes.clone() {
            let url = format!("{scheme}://{}/v2/{path}", self.host);
            let mut request = self.agent.get(&url).header("Accept", accept);
            if let Some(token) = &self.token {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
            match request.call() {
                Ok(response) => {
                    self.schemes = vec![scheme];
                    return Ok(response);
                }
                Err(e) => last_error = format!("GET {url}: {e}"),
            }
        }
        Err(last_error)
    }

    /// Gets an anonymous token from the challenge's realm.
    fn fetch_token(&self, params: &[(String, String)]) -> Result<String, String> {
        let value = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let realm = value("realm").ok_or("the registry's Bearer challenge names no realm")?;
        let plain_allowed = self.schemes.contains(&"http");
        if !(realm.starts_with("https://") || plain_allowed && realm.starts_with("http://")) {
            return Err(format!(
                "the token realm {realm:?} is not an https URL; refusing to send the request there"
            ));
        }
        let query: Vec<String> = ["service", "scope"]
            .iter()
            .filter_map(|key| value(key).map(|v| format!("{key}={}", percent_encode(v))))
            .collect();
        let separator = if realm.contains('?') { '&' } else { '?' };
        let url = format!("{realm}{separator}{}", query.join("&"));
        let failed = |e: String| format!("getting a token from {realm}: {e}");
        let mut response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| failed(e.to_string()))?;
        if response.status() != 200 {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let body = read_bounded(response.body_mut(), TOKEN_LIMIT).map_err(failed)?;
        token_of(&body).map_err(failed)
    }
}

/// Reads a whole body into memory, refusing one longer than `limit` bytes.
pub fn read_bounded(body: &mut Body, limit: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    body.as_reader()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the response: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("the response is larger than {limit} bytes"));
    }
    Ok(bytes)
}

/// The token of a token endpoint's JSON answer (`token`, or OAuth's `access_token`).
fn token_of(body: &[u8]) -> Result<String, String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let token = ["token", "access_token"]
        .iter()
        .find_map(|key| json.get(key).and_then(|t| t.as_str()))
        .ok_or("the answer holds no token")?;
    // It goes into a header: only visible ASCII, so it cannot smuggle a second one.
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the token is not a printable ASCII string".into());
    }
    Ok(token.to_owned())
}

/// The parameters of a `Bearer` challenge (`realm="…",service="…",scope="…"`), or `None`
/// when the challenge is of another scheme (Basic) or unreadable.
fn bearer_challenge(header: &str) -> Option<Vec<(String, String)>> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some(params);
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=')).collect();
        chars.next_if_eq(&'=')?;
        let value = if chars.next_if_eq(&'"').is_some() {
            quoted_value(&mut chars)?
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect()
        };
        params.push((key.trim().to_ascii_lowercase(), value));
    }
}

/// The rest of a quoted string (the opening quote already read), `\` escaping.
fn quoted_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut value = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
}

/// `text` as a URL query value: everything but unreserved characters percent-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// True for a host that is this machine: `localhost`, 127.0.0.0/8 or `[::1]`, with or
/// without a port.
fn is_loopback(host: &str) -> bool {
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name == "localhost"
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// At most the first 120 characters of a header, for an error message.
fn shorten(text: &str) -> String {
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_parsed_with_quoted_commas() {
        let params = bearer_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            params,
            [
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "reg.example".into()),
                ("scope".into(), "repository:a/b:pull,push".into()),
            ]
        );
        assert!(bearer_challenge(r#"Basic realm="x""#).is_none());
        assert!(bearer_challenge(r#"Bearer realm="unterminated"#).is_none());
        assert_eq!(bearer_challenge("Bearer ").unwrap(), []);
    }

    #[test]
    fn tokens_must_be_printable() {
        assert_eq!(token_of(br#"{"token":"abc.def"}"#).unwrap(), "abc.def");
        assert_eq!(token_of(br#"{"access_token":"x"}"#).unwrap(), "x");
        assert!(token_of(br#"{"token":"a\r\nX-Evil: 1"}"#).is_err());
        assert!(token_of(b"[]").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.3.4.5",
            "[::1]:80",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["docker.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
