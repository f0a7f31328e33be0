//! A real registry for the tests that pull and push: Debian's `docker-registry`
//! (distribution 2.8) serving a temporary directory on 127.0.0.1, optionally behind
//! htpasswd authentication and TLS with a certificate of its own CA, always behind a
//! proxy that counts the bytes clients send, so a test can tell what an upload cost, and
//! that cuts their connections when told to, so a test can interrupt an upload.
//!
//! It is killed when the fixture is dropped and, should the test process die first,
//! after ten minutes by `timeout`. Its log is a file ([`Registry::log_file`]).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::{command, run, run_stdout, sha256, stowage_binary, temp_dir, TarOut};

/// What a [`Registry`] demands of its clients.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// htpasswd authentication with this one user and password (`Basic` challenges).
    pub user: Option<(String, String)>,
    /// TLS with a certificate for IP 127.0.0.1 signed by a CA of the fixture's own, in
    /// [`Registry::cert_dir`].
    pub tls: bool,
    /// TLS (whatever `tls` says) demanding a client certificate signed by that CA: one
    /// is in the cert dir too, as `client.cert` and `client.key`.
    pub client_certificates: bool,
}

impl RegistryOptions {
    /// htpasswd with `user` and `password`, and TLS: what a real private registry is.
    pub fn private(user: &str, password: &str) -> RegistryOptions {
        RegistryOptions {
            user: Some((user.to_owned(), password.to_owned())),
            tls: true,
            client_certificates: false,
        }
    }
}

/// A `docker-registry` on a free port of 127.0.0.1, reached through a counting proxy.
pub struct Registry {
    child: Child,
    /// The address clients use (the proxy's): `127.0.0.1:PORT`.
    pub host: String,
    pub options: RegistryOptions,
    storage: PathBuf,
    dir: tempfile::TempDir,
    proxy: CountingProxy,
}

impl Registry {
    /// A plain-HTTP registry without authentication.
    pub fn start() -> Registry {
        Registry::start_with(RegistryOptions::default())
    }

    /// Starts the registry with `options` and waits (30 s at most) until it answers.
    pub fn start_with(options: RegistryOptions) -> Registry {
        let dir = temp_dir();
        let upstream = format!("127.0.0.1:{}", free_port());
        let storage = dir.path().join("storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {upstream}\n",
            storage.display()
        );
        if options.tls || options.client_certificates {
            let (certificate, key) = make_certificates(dir.path(), options.client_certificates);
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                certificate.display(),
                key.display()
            ));
            if options.client_certificates {
                let ca = dir.path().join("certs/ca.crt");
                config.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
            }
        }
        if let Some((user, password)) = &options.user {
            let htpasswd = dir.path().join("htpasswd");
            let line = run_stdout(command("htpasswd", ["-Bbn", user, password]));
            std::fs::write(&htpasswd, line.trim()).expect("write the htpasswd file");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: stowage-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).expect("write the registry's config");
        // `timeout` ends it even if this process dies before dropping the guard. Its
        // log goes to a file: an inherited stderr would hold the test's output open.
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("a log file");
        let child = command("timeout", ["600", "docker-registry", "serve"])
            .arg(&config_file)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start docker-registry (apt-get install docker-registry)");
        let proxy = CountingProxy::start(upstream.clone());
        let registry = Registry {
            child,
            host: proxy.host.clone(),
            options,
            storage,
            dir,
            proxy,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http_get(&upstream, "/v2/").is_none() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer in 30 s; its log: {}",
                std::fs::read_to_string(registry.log_file()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        registry
    }

    /// The directory holding the CA certificate (`ca.crt`) that signed the registry's
    /// certificate, for `--cert-dir` (stowage) and `--dest-cert-dir` (skopeo); `None`
    /// without TLS.
    pub fn cert_dir(&self) -> Option<PathBuf> {
        self.speaks_tls().then(|| self.dir.path().join("certs"))
    }

    fn speaks_tls(&self) -> bool {
        self.options.tls || self.options.client_certificates
    }

    /// The registry's log (level info: one line per request).
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// `user:password`, when the registry demands them.
    pub fn creds(&self) -> Option<String> {
        self.options.user.as_ref().map(|(u, p)| format!("{u}:{p}"))
    }

    /// An auth file (podman's auth.json) holding `user` and `password` for this
    /// registry, written into `dir`.
    pub fn auth_file(&self, dir: &Path, user: &str, password: &str) -> PathBuf {
        let file = dir.join(format!("auth-{user}.json"));
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let json = serde_json::json!({ "auths": { &self.host: { "auth": auth } } });
        std::fs::write(&file, json.to_string()).expect("write the auth file");
        file
    }

    /// The bytes clients have sent to the registry (request lines, headers, bodies; TLS
    /// records when it speaks TLS) since it started or since [`Registry::reset_count`].
    pub fn uploaded_bytes(&self) -> u64 {
        self.proxy.sent.load(Ordering::SeqCst)
    }

    /// Starts counting [`Registry::uploaded_bytes`] from zero.
    pub fn reset_count(&self) {
        self.proxy.sent.store(0, Ordering::SeqCst);
    }

    /// With `Some(n)`: lets `n` more bytes from clients through, then cuts the
    /// connection that would send more (client and registry sockets both closed, as a
    /// network failing mid-request does: the registry gets part of a request), and
    /// every connection after it as soon as it sends anything. `None`: stops cutting.
    pub fn cut_after(&self, bytes: Option<u64>) {
        *self.proxy.cut.lock().expect("the cut's lock") = bytes.map(Cut::Within);
    }

    /// As [`Registry::cut_after`], but the request under way when the `n` bytes have
    /// gone through is let through whole, and the connection is cut as the next
    /// request starts: the registry gets whole requests only, as when a network
    /// fails while the client waits or a push is stopped between requests. (A client
    /// waits for each answer before it sends its next request, so the first bytes
    /// after an answer start a request; this holds for TLS too.)
    pub fn cut_between_requests_after(&self, bytes: Option<u64>) {
        *self.proxy.cut.lock().expect("the cut's lock") = bytes.map(Cut::Between);
    }

    /// `skopeo copy` to `repository:tag` of this registry, with its credentials and CA
    /// (or without TLS verification when it has none); `extra` arguments go before the
    /// source and destination.
    pub fn skopeo_copy(
        &self,
        source: &str,
        repository: &str,
        tag: &str,
        extra: &[&str],
    ) -> Command {
        let mut cmd = command("skopeo", ["copy", "--quiet"]);
        match self.cert_dir() {
            Some(dir) => cmd.arg("--dest-cert-dir").arg(dir),
            None => cmd.arg("--dest-tls-verify=false"),
        };
        if let Some(creds) = self.creds() {
            cmd.arg("--dest-creds").arg(creds);
        }
        cmd.args(extra)
            .arg(source)
            .arg(format!("docker://{}/{repository}:{tag}", self.host));
        cmd
    }

    /// Pushes the docker-archive `image` as `repository:tag`; returns the manifest's
    /// digest.
    pub fn push(&self, image: &Path, repository: &str, tag: &str, dir: &Path) -> String {
        self.push_as(image, repository, tag, dir, &[])
    }

    /// Pushes `image` as `repository:tag` with OCI media types; returns the digest.
    pub fn push_oci(&self, image: &Path, repository: &str, tag: &str, dir: &Path) -> String {
        self.push_as(image, repository, tag, dir, &["--format", "oci"])
    }

    /// Pushes with `extra` skopeo arguments; returns the digest.
    fn push_as(
        &self,
        image: &Path,
        repository: &str,
        tag: &str,
        dir: &Path,
        extra: &[&str],
    ) -> String {
        let digest_file = dir.join(format!("{repository}-{tag}-{}.digest", extra.len()));
        let source = format!("docker-archive:{}", image.display());
        let mut cmd = self.skopeo_copy(&source, repository, tag, extra);
        run(cmd.arg("--digestfile").arg(&digest_file));
        std::fs::read_to_string(&digest_file).expect("skopeo wrote the digest")
    }

    /// `curl` of the API path `path` (`hello/manifests/v1`), with the registry's
    /// credentials and CA; the caller adds method, headers and body.
    pub fn curl(&self, path: &str) -> Command {
        let mut cmd = command("curl", ["-fsS"]);
        if let Some(dir) = self.cert_dir() {
            cmd.arg("--cacert").arg(dir.join("ca.crt"));
        }
        if self.options.client_certificates {
            let dir = self.dir.path().join("certs");
            cmd.arg("--cert").arg(dir.join("client.cert"));
            cmd.arg("--key").arg(dir.join("client.key"));
        }
        if let Some(creds) = self.creds() {
            cmd.arg("-u").arg(creds);
        }
        let scheme = if self.speaks_tls() { "https" } else { "http" };
        cmd.arg(format!("{scheme}://{}/v2/{path}", self.host));
        cmd
    }

    /// PUTs `manifest` (of `media_type`) as `repository:tag`; returns its digest.
    pub fn put_manifest(
        &self,
        repository: &str,
        tag: &str,
        media_type: &str,
        manifest: &str,
    ) -> String {
        run(self
            .curl(&format!("{repository}/manifests/{tag}"))
            .args(["-X", "PUT", "-H"])
            .arg(format!("Content-Type: {media_type}"))
            .arg("--data-binary")
            .arg(manifest));
        format!("sha256:{}", sha256(manifest.as_bytes()))
    }

    /// The file holding blob `digest` in the registry's storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    /// SIGTERM, which `timeout` passes on to the registry (a SIGKILL would end only
    /// `timeout` and leave the registry running).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A port of 127.0.0.1 free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A CA and a certificate it signed for IP 127.0.0.1 (as a server certificate must be:
/// rustls refuses a self-signed CA certificate as a server's). The CA goes into
/// `dir/certs/ca.crt`, and with `client`, a client certificate it signed into
/// `dir/certs/client.cert` and `client.key`; returns the server's certificate and key.
fn make_certificates(dir: &Path, client: bool) -> (PathBuf, PathBuf) {
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).expect("create the cert dir");
    let ca = (certs.join("ca.crt"), dir.join("ca.key"));
    run(command(
        "openssl",
        ["req", "-x509", "-days", "2", "-subj", "/CN=stowage test CA"],
    )
    .args(NEW_KEY)
    .arg("-keyout")
    .arg(&ca.1)
    .arg("-out")
    .arg(&ca.0));
    if client {
        let pair = (certs.join("client.cert"), certs.join("client.key"));
        sign(
            &ca,
            &pair,
            "/CN=stowage test client",
            "extendedKeyUsage=clientAuth",
        );
    }
    let server = (dir.join("server.crt"), dir.join("server.key"));
    let extensions = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth";
    sign(&ca, &server, "/CN=127.0.0.1", extensions);
    server
}

/// openssl's arguments for a new P-256 key, unencrypted.
const NEW_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// Makes the certificate and key `pair` for `subject`, signed by the CA `ca`
/// (certificate, key), with `extensions` besides those of a leaf certificate.
fn sign(ca: &(PathBuf, PathBuf), pair: &(PathBuf, PathBuf), subject: &str, extensions: &str) {
    let request = pair.0.with_extension("csr");
    let extension_file = pair.0.with_extension("ext");
    run(command("openssl", ["req", "-subj", subject])
        .args(NEW_KEY)
        .arg("-keyout")
        .arg(&pair.1)
        .arg("-out")
        .arg(&request));
    std::fs::write(
        &extension_file,
        format!("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n{extensions}\n"),
    )
    .expect("write the extensions");
    run(
        command("openssl", ["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(&request)
            .arg("-CA")
            .arg(&ca.0)
            .arg("-CAkey")
            .arg(&ca.1)
            .arg("-extfile")
            .arg(&extension_file)
            .arg("-out")
            .arg(&pair.0),
    );
    // The cert dir holds only what clients read.
    let _ = std::fs::remove_file(request);
    let _ = std::fs::remove_file(extension_file);
}

/// A TCP proxy from a port of its own to `upstream`, counting the bytes clients send.
/// HTTP over TLS cannot be read by a proxy, so it counts raw bytes, not bodies.
struct CountingProxy {
    host: String,
    sent: Arc<AtomicU64>,
    /// When clients' connections are cut; `None`: never.
    cut: Arc<Mutex<Option<Cut>>>,
    stop: Arc<AtomicBool>,
}

impl CountingProxy {
    fn start(upstream: String) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let host = listener.local_addr().expect("its address").to_string();
        let sent = Arc::new(AtomicU64::new(0));
        let cut = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, budget, stopped) = (sent.clone(), cut.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let upload = Upload {
                    counter: counter.clone(),
                    cut: budget.clone(),
                    answered: Arc::new(AtomicBool::new(true)),
                };
                let answered = upload.answered.clone();
                pipe(&client, &server, upload);
                pipe(&server, &client, answered);
            }
        });
        CountingProxy {
            host,
            sent,
            cut,
            stop,
        }
    }
}

impl Drop for CountingProxy {
    /// Stops accepting: the flag, then a connection to wake the accepting thread.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

/// Where the proxy cuts clients' connections, once the bytes given have gone through.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// After this many more bytes, wherever they end.
    Within(u64),
    /// At the start of the first request after this many more bytes.
    Between(u64),
}

/// What the proxy does with a connection's client-to-registry direction: counts it,
/// and cuts it as [`CountingProxy::cut`] says.
struct Upload {
    counter: Arc<AtomicU64>,
    cut: Arc<Mutex<Option<Cut>>>,
    /// Whether the registry has answered since the client last sent: what the client
    /// sends next starts a request.
    answered: Arc<AtomicBool>,
}

impl Upload {
    /// How many of the `read` bytes just read may pass (fewer: cut the connection);
    /// takes them from the budget.
    fn allowed(&self, read: usize) -> usize {
        let starts_request = self.answered.swap(false, Ordering::SeqCst);
        let mut cut = self.cut.lock().expect("the cut's lock");
        match cut.as_mut() {
            None => read,
            Some(Cut::Within(left)) => {
                let allowed = (*left).min(read as u64);
                *left -= allowed;
                allowed as usize
            }
            Some(Cut::Between(0)) if starts_request => 0,
            Some(Cut::Between(left)) => {
                *left = left.saturating_sub(read as u64);
                read
            }
        }
    }
}

/// Copies `from` to `to` on a thread of its own; at the end of `from`, ends `to`'s
/// writing half, so the other side sees it. A client's bytes (`Upload`) are counted and
/// may be cut (both connections closed); the registry's set the flag `answered`.
fn pipe<D: Direction + Send + 'static>(from: &TcpStream, to: &TcpStream, direction: D) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 64 << 10];
        while let Ok(read) = from.read(&mut buffer) {
            if read == 0 {
                break;
            }
            let allowed = direction.allow(read);
            if to.write_all(&buffer[..allowed]).is_err() {
                break;
            }
            direction.passed(allowed);
            if allowed < read {
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// One direction of a proxied connection.
trait Direction {
    /// How many of `read` bytes may pass; fewer cuts the connection.
    fn allow(&self, read: usize) -> usize;
    /// `bytes` went through.
    fn passed(&self, bytes: usize);
}

/// The client's direction: counted, and cut as the proxy's [`Cut`] says.
impl Direction for Upload {
    fn allow(&self, read: usize) -> usize {
        self.allowed(read)
    }

    fn passed(&self, bytes: usize) {
        self.counter.fetch_add(bytes as u64, Ordering::SeqCst);
    }
}

/// The registry's direction: each answer marks the start of the client's next request
/// (before the client can see it, so before it is passed on).
impl Direction for Arc<AtomicBool> {
    fn allow(&self, read: usize) -> usize {
        self.store(true, Ordering::SeqCst);
        read
    }

    fn passed(&self, _bytes: usize) {}
}

/// The status line of a plain HTTP GET, or `None` when nothing answers (a TLS server
/// answers too, with a 400).
pub fn http_get(host: &str, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    (!line.is_empty()).then_some(line)
}

/// A small docker-archive made without Nix: one layer holding `/hello.txt` with
/// `content` (a different content makes a different image), and a config naming it.
/// For tests that need an image in a registry, not one that runs.
pub fn tiny_image(dir: &Path, content: &[u8]) -> PathBuf {
    let layer = TarOut::new().file("hello.txt", content).finish();
    let layer_digest = sha256(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_digest}")] },
    })
    .to_string();
    let config_name = format!("{}.json", sha256(config.as_bytes()));
    let layer_name = format!("{layer_digest}/layer.tar");
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["tiny:latest"],
        "Layers": [layer_name],
    }])
    .to_string();
    let archive = TarOut::new()
        .file(&config_name, config.as_bytes())
        .file(&layer_name, &layer)
        .file("manifest.json", manifest.as_bytes())
        .finish();
    let file = dir.join(format!("tiny-{}.tar", &sha256(content)[..12]));
    std::fs::write(&file, archive).expect("write the tiny image");
    file
}

/// `stowage prefetch` with `args`: the command, not yet run.
pub fn prefetch_command(args: &[&str]) -> Command {
    let mut cmd = command(
        stowage_binary().to_str().expect("a UTF-8 path"),
        ["prefetch"],
    );
    cmd.args(args);
    cmd
}

/// The value of `key = "…";` in a printed pullImage call.
pub fn field(expression: &str, key: &str) -> String {
    expression
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key} = \"")))
        .and_then(|rest| rest.strip_suffix("\";"))
        .unwrap_or_else(|| panic!("no {key} in:\n{expression}"))
        .to_owned()
}
