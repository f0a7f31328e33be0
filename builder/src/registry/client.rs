//! The registry's HTTP API v2, as far as pulling and pushing need it: manifests and
//! blobs read, blobs uploaded (mounted, chunked, monolithic, resumed), manifests
//! written, with the registry's authentication.
//!
//! A request answered 401 is answered in turn: a `Basic` challenge with the user's
//! credentials (then sent with every later request), a `Bearer` challenge with a token
//! from the challenge's realm, fetched with the credentials when there are any and
//! anonymously otherwise, as registries (Docker Hub, ghcr.io, …) expect. Only a request
//! whose body can be sent again is retried so; before streaming a blob, a pusher calls
//! [`Registry::authorize`] to settle the token for the scopes it needs.
//!
//! Everything the registry sends is hostile: bodies read into memory are bounded, the
//! challenge is parsed without trusting its shape, an upload location must be on the
//! registry itself, and a realm may not downgrade to plain HTTP unless plain HTTP was
//! allowed for the registry itself.

use super::auth::{Credentials, Login};
use super::reference::Digest;
use super::tls;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Duration;
use ureq::http::{Method, Request, Response};
use ureq::{Body, SendBody};

/// How large a token response may be: real ones are a few kilobytes.
const TOKEN_LIMIT: u64 = 1 << 20;

/// How much of an error response is read for its message.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

/// How to reach one registry: TLS and credentials.
#[derive(Debug, Clone)]
pub struct Access {
    /// False: certificates are not checked and plain HTTP is allowed, as skopeo's
    /// `--tls-verify=false`.
    pub tls_verify: bool,
    /// containers-tools' certificate directory (`--cert-dir`): `*.crt` CAs, a
    /// `NAME.cert` and `NAME.key` client certificate.
    pub cert_dir: Option<PathBuf>,
    pub login: Login,
}

/// The scope of a token for `actions` (`pull`, `pull,push`) on `repository`, as
/// [`Registry::authorize`] takes it: a push needs `pull,push` on its repository, a
/// cross-repository mount also `pull` on the repository it mounts from.
pub fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// A connection to one registry's API.
pub struct Registry {
    agent: ureq::Agent,
    host: String,
    /// The schemes still possible, best first: `https` alone, or `https` then `http`
    /// when plain HTTP is allowed; narrowed to the one that answered.
    schemes: Vec<&'static str>,
    login: Login,
    /// The `Authorization` header sent with every request, once a challenge settled it.
    authorization: Option<String>,
    /// The last `Bearer` challenge's parameters: where to get a token for new scopes.
    bearer: Option<Vec<(String, String)>>,
    /// The scopes asked for by [`Registry::authorize`], kept in every later token.
    scopes: Vec<String>,
}

/// A blob upload: started, mounted instead, or going on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadStart {
    /// The registry mounted the blob from the other repository: nothing to upload.
    Mounted,
    /// An upload session, at this URL.
    Session(UploadUrl),
}

/// Where an upload session goes on: a URL on the registry itself, checked. Every answer
/// names the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadUrl(String);

impl UploadUrl {
    /// The URL, to record for a later push.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How far an upload session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Where the session goes on.
    pub url: UploadUrl,
    /// How many bytes the registry holds: the next chunk starts there.
    pub received: u64,
}

/// A manifest as fetched, its digest not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    /// The `Content-Type` the registry sent.
    pub media_type: Option<String>,
}

/// Where a request goes: a path under the registry's `/v2/`, or a URL it named (an
/// upload's, checked).
#[derive(Clone, Copy)]
enum Target<'a> {
    Api(&'a str),
    Url(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Api(path) => write!(f, "/v2/{path}"),
            Target::Url(url) => f.write_str(url),
        }
    }
}

/// A request body: bytes that can be sent again, or a stream of a known length that
/// cannot.
enum Outgoing<'a> {
    Bytes(&'a [u8]),
    Stream(&'a mut dyn Read, u64),
}

impl Registry {
    /// A client of the registry API at `host` (`registry-1.docker.io`, `127.0.0.1:5000`).
    /// A loopback host may always speak plain HTTP, as Docker treats it; any other only
    /// when `access.tls_verify` is false.
    pub fn new(host: &str, access: Access) -> Result<Registry, String> {
        let tls = tls::config(access.tls_verify, access.cert_dir.as_deref())?;
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("stowage/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        let plain_allowed = !access.tls_verify || is_loopback(host);
        Ok(Registry {
            agent,
            host: host.to_owned(),
            schemes: if plain_allowed {
                vec!["https", "http"]
            } else {
                vec!["https"]
            },
            login: access.login,
            authorization: None,
            bearer: None,
            scopes: Vec::new(),
        })
    }

    /// Settles the authentication for `scopes` (see [`repository_scope`]) before
    /// requests whose bodies are streamed and so cannot be retried: asks `/v2/` who we
    /// must be, and gets the credentials checked or a token for the scopes. Wrong
    /// credentials, or none where some are needed, are the error.
    pub fn authorize(&mut self, scopes: &[String]) -> Result<(), String> {
        self.scopes = scopes.to_vec();
        if let Some(params) = self.bearer.clone() {
            return self.use_token(&params, &[]);
        }
        let response = self.send(Method::GET, "", &[], &[])?;
        if response.status() != 401 {
            return Ok(());
        }
        self.answer(&response)?;
        match self.send(Method::GET, "", &[], &[])?.status().as_u16() {
            401 => Err(self.refused("/v2/")),
            _ => Ok(()),
        }
    }

    /// GETs `/v2/<path>` accepting `accept`, authenticating when the registry asks. Any
    /// status but a second 401 comes back; the caller says what it means.
    pub fn get(&mut self, path: &str, accept: &str) -> Result<Response<Body>, String> {
        self.request(Method::GET, Target::Api(path), &[("Accept", accept)], &[])
    }

    /// HEADs the blob `digest` of `repository`: its size when the repository has it.
    pub fn blob_size(&mut self, repository: &str, digest: &Digest) -> Result<Option<u64>, String> {
        let path = format!("{repository}/blobs/{digest}");
        let mut response = self.request(Method::HEAD, Target::Api(&path), &[], &[])?;
        match response.status().as_u16() {
            200 => header(&response, "content-length")
                .and_then(|v| v.parse().ok())
                .map(Some)
                .ok_or_else(|| format!("blob {digest}: the registry sent no size")),
            404 => Ok(None),
            _ => Err(failure(&mut response, &format!("blob {digest}"))),
        }
    }

    /// Starts uploading a blob to `repository`, or, given `mount` (the digest and the
    /// repository of this registry that has it), asks the registry to mount it from
    /// there; a registry that cannot opens an upload session instead.
    pub fn start_upload(
        &mut self,
        repository: &str,
        mount: Option<(&Digest, &str)>,
    ) -> Result<UploadStart, String> {
        let query = mount.map_or(String::new(), |(digest, from)| {
            format!("?mount={digest}&from={}", percent_encode(from))
        });
        let path = format!("{repository}/blobs/uploads/{query}");
        let mut response = self.request(Method::POST, Target::Api(&path), &[], &[])?;
        match response.status().as_u16() {
            201 if mount.is_some() => Ok(UploadStart::Mounted),
            202 => Ok(UploadStart::Session(self.location(&response)?)),
            _ => Err(failure(
                &mut response,
                &format!("starting an upload to {repository}"),
            )),
        }
    }

    /// PATCHes `length` bytes of `chunk` into the session at `url`, from `offset` (what
    /// the registry holds so far). Streamed: call [`Registry::authorize`] first.
    pub fn upload_chunk(
        &mut self,
        url: &UploadUrl,
        offset: u64,
        length: u64,
        chunk: &mut dyn Read,
    ) -> Result<Progress, String> {
        let range = format!("{offset}-{}", (offset + length).saturating_sub(1));
        let headers: &[(&str, &str)] = if length > 0 {
            &[("Content-Range", &range)]
        } else {
            &[]
        };
        let mut response = self.stream(Method::PATCH, &url.0, headers, chunk, length)?;
        match response.status().as_u16() {
            202 => self.progress(&response),
            _ => Err(failure(&mut response, "uploading a chunk")),
        }
    }

    /// Ends the session at `url` as the blob `digest`, with `last` (a reader and its
    /// length) as its last bytes, or its whole when no chunk was sent: a monolithic
    /// upload. The registry checks the digest; its answer is checked too.
    pub fn finish_upload(
        &mut self,
        url: &UploadUrl,
        digest: &Digest,
        last: Option<(&mut dyn Read, u64)>,
    ) -> Result<(), String> {
        let separator = if url.0.contains('?') { '&' } else { '?' };
        let target = format!("{}{separator}digest={digest}", url.0);
        let mut response = match last {
            Some((reader, length)) => self.stream(Method::PUT, &target, &[], reader, length)?,
            None => self.request(Method::PUT, Target::Url(&target), &[], &[])?,
        };
        let what = format!("blob {digest}");
        if response.status() != 201 {
            return Err(failure(
                &mut response,
                &format!("finishing the upload of {what}"),
            ));
        }
        check_stated_digest(&response, digest, &what)
    }

    /// How far the session at `url` is, to resume an upload that was cut off; `None`
    /// when the registry no longer knows the session (it expired: start again).
    pub fn upload_status(&mut self, url: &UploadUrl) -> Result<Option<Progress>, String> {
        let mut response = self.request(Method::GET, Target::Url(&url.0), &[], &[])?;
        match response.status().as_u16() {
            204 => self.progress(&response).map(Some),
            404 => Ok(None),
            _ => Err(failure(&mut response, "the upload's status")),
        }
    }

    /// PUTs `bytes` as the manifest `reference` (a tag or a digest) of `repository`;
    /// returns its digest, which the registry's `Docker-Content-Digest` must state too.
    pub fn put_manifest(
        &mut self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, String> {
        let path = format!("{repository}/manifests/{reference}");
        let headers = [("Content-Type", media_type)];
        let mut response = self.request(Method::PUT, Target::Api(&path), &headers, bytes)?;
        let what = format!("manifest {repository}:{reference}");
        if response.status() != 201 {
            return Err(failure(&mut response, &format!("putting {what}")));
        }
        let digest = Digest::of(bytes);
        check_stated_digest(&response, &digest, &what)?;
        Ok(digest)
    }

    /// GETs the manifest `reference` of `repository`, at most `limit` bytes: its bytes
    /// and media type, `None` when there is none. The caller checks the digest.
    pub fn get_manifest(
        &mut self,
        repository: &str,
        reference: &str,
        accept: &str,
        limit: u64,
    ) -> Result<Option<FetchedManifest>, String> {
        let what = format!("manifest {reference}");
        let mut response = self.get(&format!("{repository}/manifests/{reference}"), accept)?;
        match response.status().as_u16() {
            200 => {
                let bytes =
                    read_bounded(response.body_mut(), limit).map_err(|e| format!("{what}: {e}"))?;
                let media_type = header(&response, "content-type").map(str::to_owned);
                Ok(Some(FetchedManifest { bytes, media_type }))
            }
            404 => Ok(None),
            _ => Err(failure(&mut response, &what)),
        }
    }

    /// Sends a request whose body can be sent again: once, and once more after
    /// answering a 401. A second 401 is the error.
    fn request(
        &mut self,
        method: Method,
        target: Target<'_>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response<Body>, String> {
        let response = self.dispatch(method.clone(), target, headers, body)?;
        if response.status() != 401 {
            return Ok(response);
        }
        self.answer(&response)?;
        let response = self.dispatch(method, target, headers, body)?;
        if response.status() == 401 {
            return Err(self.refused(&target.to_string()));
        }
        Ok(response)
    }

    /// Sends one request to `target`: an API path through [`Registry::send`], a URL
    /// as it is.
    fn dispatch(
        &mut self,
        method: Method,
        target: Target<'_>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response<Body>, String> {
        match target {
            Target::Api(path) => self.send(method, path, headers, body),
            Target::Url(url) => self.call(method, url, headers, Outgoing::Bytes(body)),
        }
    }

    /// Streams `length` bytes of `reader` to the URL `url` (an upload's), with
    /// `headers` besides its type and length. It cannot be sent twice, so a 401 is the
    /// error, after which a pusher can [`Registry::authorize`] again and resume from
    /// [`Registry::upload_status`].
    fn stream(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        reader: &mut dyn Read,
        length: u64,
    ) -> Result<Response<Body>, String> {
        let mut all = vec![("Content-Type", "application/octet-stream")];
        all.extend_from_slice(headers);
        let response = self.call(method.clone(), url, &all, Outgoing::Stream(reader, length))?;
        if response.status() == 401 {
            return Err(format!(
                "{method} {url}: the registry asked for authentication again (an expired token?), and a streamed body cannot be sent twice: authorize again, then resume from the upload's status"
            ));
        }
        Ok(response)
    }

    /// Sends one request to `/v2/<path>`, trying the schemes still possible in order;
    /// the first that connects is kept for every later request. A TLS handshake that
    /// fails on a certificate is the error at once: the registry speaks TLS, so plain
    /// HTTP is no way out.
    fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response<Body>, String> {
        let mut last_error = String::new();
        for scheme in self.schemes.clone() {
            let url = format!("{scheme}://{}/v2/{path}", self.host);
            match self.try_call(method.clone(), &url, headers, Outgoing::Bytes(body)) {
                Ok(response) => {
                    self.schemes = vec![scheme];
                    return Ok(response);
                }
                Err(e) if is_tls_refusal(&e) => return Err(describe(&method, &url, &e)),
                Err(e) => last_error = describe(&method, &url, &e),
            }
        }
        Err(last_error)
    }

    /// Sends one request to `url`, the error described.
    fn call(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Outgoing<'_>,
    ) -> Result<Response<Body>, String> {
        self.try_call(method.clone(), url, headers, body)
            .map_err(|e| describe(&method, url, &e))
    }

    /// Sends one request with the settled `Authorization`. Redirects are followed only
    /// for GET and HEAD (blobs are often served from elsewhere); ureq does not send the
    /// `Authorization` header on to another host.
    fn try_call(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Outgoing<'_>,
    ) -> Result<Response<Body>, ureq::Error> {
        let reads = method == Method::GET || method == Method::HEAD;
        let mut request = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let mut bytes_reader;
        let mut exact;
        let (length, body) = match body {
            Outgoing::Bytes([]) if reads => return self.run(request.body(())?, reads),
            Outgoing::Bytes(bytes) => {
                bytes_reader = bytes;
                (bytes.len() as u64, SendBody::from_reader(&mut bytes_reader))
            }
            Outgoing::Stream(reader, length) => {
                exact = Exact {
                    inner: reader,
                    left: length,
                };
                (length, SendBody::from_reader(&mut exact))
            }
        };
        let request = request.header("Content-Length", length).body(body)?;
        self.run(request, reads)
    }

    /// Runs `request`, following redirects only when it `reads`.
    fn run(
        &self,
        request: Request<impl ureq::AsSendBody>,
        reads: bool,
    ) -> Result<Response<Body>, ureq::Error> {
        let request = self
            .agent
            .configure_request(request)
            .max_redirects(if reads { 10 } else { 0 })
            .build();
        self.agent.run(request)
    }

    /// Answers a 401 `response`: credentials for a `Basic` challenge, a token for a
    /// `Bearer` one.
    fn answer(&mut self, response: &Response<Body>) -> Result<(), String> {
        let text = header(response, "www-authenticate").unwrap_or("");
        match parse_challenge(text) {
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("basic") => {
                let basic = self.credentials(text)?.basic_header();
                self.authorization = Some(basic);
                Ok(())
            }
            Some((scheme, params)) if scheme.eq_ignore_ascii_case("bearer") => {
                let scope = params
                    .iter()
                    .filter(|(k, _)| k == "scope")
                    .map(|(_, v)| v.clone())
                    .collect::<Vec<_>>();
                self.bearer = Some(params.clone());
                self.use_token(&params, &scope)
            }
            _ => Err(format!(
                "the registry {} wants authentication stowage does not know ({})",
                self.host,
                shorten(text)
            )),
        }
    }

    /// Gets a token from the `Bearer` challenge `params` for `scopes` and the ones
    /// [`Registry::authorize`] asked for, and sends it from now on.
    fn use_token(&mut self, params: &[(String, String)], scopes: &[String]) -> Result<(), String> {
        let mut all: Vec<String> = self.scopes.clone();
        all.extend(scopes.iter().filter(|s| !self.scopes.contains(s)).cloned());
        let token = self.fetch_token(params, &all)?;
        self.authorization = Some(format!("Bearer {token}"));
        Ok(())
    }

    /// The credentials to answer a `Basic` challenge with, or the error that there are
    /// none.
    fn credentials(&self, challenge: &str) -> Result<&Credentials, String> {
        match &self.login {
            Login::Found(credentials) => Ok(credentials),
            Login::Anonymous => Err(format!(
                "the registry wants credentials ({}), and stowage pulls anonymously only",
                shorten(challenge)
            )),
            Login::NotFound(looked) => Err(format!(
                "registry {} wants credentials, and stowage found none for it {}",
                self.host,
                how_to_log_in(looked, &self.host)
            )),
        }
    }

    /// The error for a request refused even after authenticating.
    fn refused(&self, what: &str) -> String {
        match &self.login {
            Login::Found(c) => format!(
                "registry {} refused the credentials of user {:?} (from {}) for {what}: check them or log in again",
                self.host, c.username, c.origin
            ),
            Login::Anonymous => format!(
                "the registry refused the anonymous token for {what}: the image is private or does not exist"
            ),
            Login::NotFound(looked) => format!(
                "registry {} refused anonymous access to {what}: the image is private or does not exist, and stowage found no credentials for it {}",
                self.host,
                how_to_log_in(looked, &self.host)
            ),
        }
    }

    /// Gets a token for `scopes` from the challenge's realm, with the credentials when
    /// there are any.
    fn fetch_token(
        &self,
        params: &[(String, String)],
        scopes: &[String],
    ) -> Result<String, String> {
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
        let service = value("service").map(|s| ("service", s));
        let query: Vec<String> = service
            .into_iter()
            .chain(scopes.iter().map(|s| ("scope", s.as_str())))
            .map(|(key, v)| format!("{key}={}", percent_encode(v)))
            .collect();
        let separator = if realm.contains('?') { '&' } else { '?' };
        let url = format!("{realm}{separator}{}", query.join("&"));
        let failed = |e: String| format!("getting a token from {realm}: {e}");
        let mut request = self.agent.get(&url);
        if let Login::Found(credentials) = &self.login {
            request = request.header("Authorization", credentials.basic_header());
        }
        let mut response = request.call().map_err(|e| failed(e.to_string()))?;
        match response.status().as_u16() {
            200 => {}
            401 | 403 if matches!(self.login, Login::Found(_)) => {
                return Err(self.refused(&scopes.join(" ")))
            }
            status => return Err(failed(format!("HTTP {status}"))),
        }
        let body = read_bounded(response.body_mut(), TOKEN_LIMIT).map_err(failed)?;
        token_of(&body).map_err(failed)
    }

    /// The checked upload URL of a response's `Location`.
    fn location(&self, response: &Response<Body>) -> Result<UploadUrl, String> {
        let location =
            header(response, "location").ok_or("the registry named no upload location")?;
        let origin = format!("{}://{}", self.schemes[0], self.host);
        resolve_location(&origin, location).map(UploadUrl)
    }

    /// An upload URL an earlier push recorded, held to this registry as a `Location` is.
    pub fn upload_url(&self, recorded: &str) -> Result<UploadUrl, String> {
        let origin = format!("{}://{}", self.schemes[0], self.host);
        resolve_location(&origin, recorded).map(UploadUrl)
    }

    /// The progress an upload response states: its `Location` and `Range`.
    fn progress(&self, response: &Response<Body>) -> Result<Progress, String> {
        let range = header(response, "range").ok_or("the registry sent no Range for the upload")?;
        Ok(Progress {
            url: self.location(response)?,
            received: received(range)?,
        })
    }
}

/// A reader that yields exactly `left` more bytes of `inner`, or an error when it ends
/// sooner: the `Content-Length` sent before it has to be true.
struct Exact<'a> {
    inner: &'a mut dyn Read,
    left: u64,
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let wanted = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..wanted])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the body ended {} bytes short of its length", self.left),
            ));
        }
        self.left -= read as u64;
        Ok(read)
    }
}

/// The `url` of a `Location` header, made absolute against `origin` (`scheme://host`):
/// a path on it, or a URL of that scheme and host. Any other is refused: a hostile
/// registry must not send our blobs, or our token, elsewhere.
fn resolve_location(origin: &str, location: &str) -> Result<String, String> {
    let refused = || {
        format!(
            "the registry sent the upload location {:?}, which is not a path on {origin}; refusing to send data there",
            shorten(location)
        )
    };
    if location.is_empty() || !location.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refused());
    }
    if location.starts_with('/') && !location.starts_with("//") {
        return Ok(format!("{origin}{location}"));
    }
    let same_origin = location
        .get(..origin.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(origin));
    if same_origin && location[origin.len()..].starts_with('/') {
        Ok(format!("{origin}{}", &location[origin.len()..]))
    } else {
        Err(refused())
    }
}

/// The bytes an upload holds by its `Range` header (`0-<last byte>`, inclusive; some
/// registries write `bytes=0-…`). `0-0` and `0--1` are read as nothing: distribution
/// writes an empty upload so (and a single byte too: a resume from 0 is then refused
/// with 416, and the upload starts over).
fn received(range: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "the registry sent the Range {:?}, not 0-<end>",
            shorten(range)
        )
    };
    let end = range
        .strip_prefix("bytes=")
        .unwrap_or(range)
        .strip_prefix("0-")
        .ok_or_else(bad)?;
    if end == "-1" {
        return Ok(0);
    }
    match end.parse::<u64>() {
        Ok(0) => Ok(0),
        Ok(end) => end.checked_add(1).ok_or_else(bad),
        Err(_) => Err(bad()),
    }
}

/// Checks the digest a registry states (`Docker-Content-Digest`) for what it stored,
/// when it states one, against `expected`.
fn check_stated_digest(
    response: &Response<Body>,
    expected: &Digest,
    what: &str,
) -> Result<(), String> {
    match header(response, "docker-content-digest") {
        Some(stated) if stated != expected.to_string() => Err(format!(
            "{what}: the registry says it stored {:?}, not {expected}",
            shorten(stated)
        )),
        _ => Ok(()),
    }
}

/// The error for an unexpected answer: its status, and the first of the registry's
/// error codes and messages when its body holds them.
fn failure(response: &mut Response<Body>, what: &str) -> String {
    let status = response.status().as_u16();
    let detail = read_bounded(response.body_mut(), ERROR_BODY_LIMIT)
        .ok()
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .and_then(|json| {
            let first = json.get("errors")?.get(0)?;
            let text = |key| first.get(key).and_then(|v| v.as_str()).unwrap_or("");
            Some(format!(
                " ({}: {})",
                shorten(text("code")),
                shorten(text("message"))
            ))
        })
        .unwrap_or_default();
    format!("{what}: the registry answered HTTP {status}{detail}")
}

/// A response header as text, when it is there and printable.
fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The rustls error a failed request carries, if any.
fn tls_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(e) => e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}

/// True when the registry speaks TLS but the handshake failed: its certificate is not
/// trusted, or it refused ours (or the lack of one). Plain HTTP is then no way out.
fn is_tls_refusal(error: &ureq::Error) -> bool {
    matches!(
        tls_error(error),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::AlertReceived(_))
    )
}

/// A failed request as one message; a failed TLS handshake says what to do.
fn describe(method: &Method, url: &str, error: &ureq::Error) -> String {
    let hint = match tls_error(error) {
        Some(rustls::Error::InvalidCertificate(_)) => {
            ": give the directory of the CA certificate (*.crt) that signed it with --cert-dir DIR, or skip verification with --tls-verify=false"
        }
        Some(rustls::Error::AlertReceived(_)) => {
            ": the registry refused the TLS handshake; if it wants a client certificate, put it in a --cert-dir DIR as NAME.cert with its NAME.key"
        }
        _ => "",
    };
    format!("{method} {url}: {error}{hint}")
}

/// Where stowage looked for credentials, and how to give them.
fn how_to_log_in(looked: &[String], host: &str) -> String {
    let places = if looked.is_empty() {
        "no auth file location: neither HOME nor XDG_RUNTIME_DIR is set".to_owned()
    } else {
        looked.join(", ")
    };
    format!(
        "(looked in {places}): give them with --authfile FILE or --creds USER:PASSWORD, or log in with podman login {host} or docker login {host}"
    )
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

/// The scheme and parameters of a challenge (`Bearer realm="…",service="…",scope="…"`,
/// `Basic realm="…"`), or `None` when it is unreadable.
fn parse_challenge(header: &str) -> Option<(String, Vec<(String, String)>)> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Some((scheme.to_owned(), params));
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
    use crate::registry::auth::{AuthArgs, Login};
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A request as the fake registry saw it.
    struct Seen {
        line: String,
        headers: Vec<String>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find_map(|h| {
                let (key, value) = h.split_once(':')?;
                key.eq_ignore_ascii_case(name).then(|| value.trim())
            })
        }
    }

    /// A fake registry on 127.0.0.1 speaking plain HTTP, one request per connection
    /// (a TLS handshake is dropped, so the client falls back to HTTP). `answer` gets
    /// its own host and each request, and returns the status, headers and body; every
    /// request is also logged, as `METHOD TARGET`, into the returned log.
    fn fake_registry(
        answer: impl Fn(&str, &Seen) -> (u16, Vec<String>, Vec<u8>) + Send + 'static,
    ) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (own, seen_log) = (host.clone(), log.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut reader = BufReader::new(stream.unwrap());
                if reader.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
                    continue;
                }
                let mut lines = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    lines.push(line.trim().to_owned());
                }
                let mut seen = Seen {
                    line: lines.first().cloned().unwrap_or_default(),
                    headers: lines.into_iter().skip(1).collect(),
                    body: Vec::new(),
                };
                let length = seen
                    .header("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                (&mut reader)
                    .take(length)
                    .read_to_end(&mut seen.body)
                    .unwrap();
                let (status, headers, body) = answer(&own, &seen);
                // A HEAD's answer states the length of what a GET would send.
                let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
                if !headers.iter().any(|h| h.starts_with("Content-Length")) {
                    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
                }
                for header in headers {
                    head.push_str(&format!("{header}\r\n"));
                }
                let stream = reader.get_mut();
                let _ = stream.write_all(format!("{head}\r\n").as_bytes());
                let _ = stream.write_all(&body);
                seen_log.lock().unwrap().push(seen);
            }
        });
        (host, log)
    }

    fn credentials(creds: &str) -> Login {
        let args = AuthArgs {
            authfile: None,
            creds: Some(creds.into()),
        };
        crate::registry::auth::login(&args, "unused").unwrap()
    }

    fn connect(host: &str, login: Login) -> Registry {
        let access = Access {
            tls_verify: true,
            cert_dir: None,
            login,
        };
        Registry::new(host, access).unwrap()
    }

    /// A registry that wants a token from its own realm, given only for alice's
    /// password and the scope `repository:a:pull,push`; with it, it takes uploads.
    fn token_registry() -> (String, Arc<Mutex<Vec<Seen>>>) {
        let alice = creds_header("alice:pw");
        fake_registry(move |host, seen| {
            let target = seen.line.split(' ').nth(1).unwrap_or("");
            let authorization = seen.header("authorization").unwrap_or("");
            let challenge =
                format!("WWW-Authenticate: Bearer realm=\"http://{host}/token\",service=\"fake\"");
            let scope = "/token?service=fake&scope=repository%3Aa%3Apull%2Cpush";
            match (target, authorization) {
                (t, a) if t == scope && a == alice => (200, vec![], br#"{"token":"t1"}"#.to_vec()),
                (t, _) if t.starts_with("/token") => (401, vec![], vec![]),
                (_, a) if a != "Bearer t1" => (401, vec![challenge], vec![]),
                ("/v2/a/blobs/uploads/", _) => {
                    (202, vec!["Location: /v2/a/blobs/uploads/u1".into()], vec![])
                }
                ("/v2/a/blobs/uploads/u1", _) => (
                    202,
                    vec![
                        format!("Location: http://{host}/v2/a/blobs/uploads/u2"),
                        format!("Range: 0-{}", seen.body.len() - 1),
                    ],
                    vec![],
                ),
                (t, _) if t.starts_with("/v2/a/blobs/uploads/u2?digest=") => {
                    let digest = t.rsplit('=').next().unwrap().replace("%3A", ":");
                    (
                        201,
                        vec![format!("Docker-Content-Digest: {digest}")],
                        vec![],
                    )
                }
                _ => (404, vec![], vec![]),
            }
        })
    }

    fn creds_header(pair: &str) -> String {
        match credentials(pair) {
            Login::Found(c) => c.basic_header(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_token_for_the_push_scopes_is_settled_before_a_streamed_upload() {
        let (host, log) = token_registry();
        let mut registry = connect(&host, credentials("alice:pw"));
        registry
            .authorize(&[repository_scope("a", "pull,push")])
            .unwrap();
        let UploadStart::Session(url) = registry.start_upload("a", None).unwrap() else {
            panic!("mounted without a mount")
        };
        let mut chunk: &[u8] = b"hello";
        let progress = registry.upload_chunk(&url, 0, 5, &mut chunk).unwrap();
        assert_eq!(progress.received, 5);
        assert_eq!(
            progress.url.0,
            format!("http://{host}/v2/a/blobs/uploads/u2")
        );
        registry
            .finish_upload(&progress.url, &Digest::of(b"hello"), None)
            .unwrap();
        let log = log.lock().unwrap();
        let lines: Vec<&str> = log.iter().map(|s| s.line.as_str()).collect();
        assert_eq!(lines[0], "GET /v2/ HTTP/1.1", "{lines:?}");
        assert!(lines[1].starts_with("GET /token?"), "{lines:?}");
        assert_eq!(lines[2], "GET /v2/ HTTP/1.1", "{lines:?}");
        let patch = log.iter().find(|s| s.line.starts_with("PATCH")).unwrap();
        assert_eq!(patch.header("content-range"), Some("0-4"));
        assert_eq!(patch.header("authorization"), Some("Bearer t1"));
        assert_eq!(patch.body, b"hello");
        let put = log.iter().find(|s| s.line.starts_with("PUT")).unwrap();
        assert_eq!(put.header("content-length"), Some("0"));
    }

    #[test]
    fn wrong_credentials_at_the_token_realm_are_one_error() {
        let (host, _) = token_registry();
        let mut registry = connect(&host, credentials("alice:wrong"));
        let err = registry
            .authorize(&[repository_scope("a", "pull,push")])
            .unwrap_err();
        assert_eq!(
            err,
            format!("registry {host} refused the credentials of user \"alice\" (from --creds) for repository:a:pull,push: check them or log in again")
        );
        let mut registry = connect(&host, Login::NotFound(vec!["/h/auth.json".into()]));
        let err = registry.blob_size("a", &Digest::of(b"")).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "getting a token from http://{host}/token: HTTP 401"
            )),
            "{err}"
        );
    }

    #[test]
    fn basic_credentials_are_checked_then_sent_with_every_request() {
        let alice = creds_header("alice:pw");
        let (host, log) = fake_registry(move |_, seen| match seen.header("authorization") {
            Some(a) if a == alice => (200, vec!["Content-Length: 7".into()], vec![]),
            _ => (
                401,
                vec!["WWW-Authenticate: Basic realm=\"r\"".into()],
                vec![],
            ),
        });
        let mut registry = connect(&host, credentials("alice:pw"));
        registry.authorize(&[]).unwrap();
        assert_eq!(registry.blob_size("a", &Digest::of(b"")).unwrap(), Some(7));
        assert_eq!(
            log.lock().unwrap().len(),
            3,
            "the HEAD was not sent with the credentials"
        );

        let mut registry = connect(&host, credentials("alice:wrong"));
        let err = registry.authorize(&[]).unwrap_err();
        assert!(
            err.contains("refused the credentials of user \"alice\" (from --creds)"),
            "{err}"
        );
        let mut registry = connect(&host, Login::NotFound(vec!["/h/auth.json".into()]));
        let err = registry.authorize(&[]).unwrap_err();
        assert_eq!(
            err,
            format!("registry {host} wants credentials, and stowage found none for it (looked in /h/auth.json): give them with --authfile FILE or --creds USER:PASSWORD, or log in with podman login {host} or docker login {host}")
        );
    }

    #[test]
    fn an_upload_location_elsewhere_is_refused() {
        let (host, _) = fake_registry(|_, _| {
            (
                202,
                vec!["Location: http://evil.example/v2/a/blobs/uploads/u".into()],
                vec![],
            )
        });
        let mut registry = connect(&host, Login::Anonymous);
        let err = registry.start_upload("a", None).unwrap_err();
        assert!(err.contains("refusing to send data there"), "{err}");
    }

    #[test]
    fn challenges_are_parsed_with_quoted_commas() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            [
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "reg.example".into()),
                ("scope".into(), "repository:a/b:pull,push".into()),
            ]
        );
        let (scheme, params) = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(scheme, "Basic");
        assert_eq!(params, [("realm".into(), "Registry Realm".into())]);
        assert!(parse_challenge(r#"Bearer realm="unterminated"#).is_none());
        assert!(parse_challenge("").is_none());
        assert_eq!(parse_challenge("Bearer ").unwrap().1, []);
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

    #[test]
    fn locations_stay_on_the_registry() {
        let origin = "https://reg.example:5000";
        let ok = |location| resolve_location(origin, location).unwrap();
        assert_eq!(
            ok("/v2/a/blobs/uploads/u?_state=x"),
            "https://reg.example:5000/v2/a/blobs/uploads/u?_state=x"
        );
        assert_eq!(
            ok("https://REG.example:5000/v2/a/blobs/uploads/u"),
            "https://reg.example:5000/v2/a/blobs/uploads/u"
        );
        for hostile in [
            "http://reg.example:5000/v2/a",
            "https://reg.example:5001/v2/a",
            "https://reg.example:5000.evil.com/v2/a",
            "https://reg.example:5000@evil.com/v2/a",
            "https://evil.com/v2/a",
            "//evil.com/v2/a",
            "v2/a",
            "",
            "/v2/a\r\nX-Evil: 1",
        ] {
            let err = resolve_location(origin, hostile).unwrap_err();
            assert!(
                err.contains("refusing to send data there"),
                "{hostile}: {err}"
            );
        }
    }

    #[test]
    fn ranges_say_how_much_the_registry_holds() {
        assert_eq!(received("0-1233").unwrap(), 1234);
        assert_eq!(received("bytes=0-9").unwrap(), 10);
        assert_eq!(received("0-0").unwrap(), 0);
        assert_eq!(received("0--1").unwrap(), 0);
        for bad in ["", "5-9", "0-x", "0-", "0-18446744073709551615"] {
            assert!(received(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_short_stream_is_an_error_not_a_lie_about_its_length() {
        let mut data: &[u8] = b"abc";
        let mut exact = Exact {
            inner: &mut data,
            left: 5,
        };
        let mut out = Vec::new();
        let err = exact.read_to_end(&mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the body ended 2 bytes short of its length"
        );
        let mut data: &[u8] = b"abcdef";
        let mut out = Vec::new();
        Exact {
            inner: &mut data,
            left: 4,
        }
        .read_to_end(&mut out)
        .unwrap();
        assert_eq!(out, b"abcd");
    }
}
