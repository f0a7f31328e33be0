//! Registry credentials, found where docker, podman and skopeo find them: `--creds`,
//! then the auth files in containers/image's order (`--authfile`, `$REGISTRY_AUTH_FILE`,
//! `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json`,
//! Docker's `config.json`), the first entry for the registry winning.
//!
//! Auth files are hostile input like any other: read bounded, and a malformed one is an
//! error naming the file and the field, never a panic. Secrets never appear in messages.
//!
//! Credential helpers (`credHelpers`, `credsStore`) are refused with an error saying how
//! to give the credentials instead, rather than run: a helper may prompt (a GPG
//! pinentry, a desktop keyring) where nobody can answer, and running a program named by a
//! file is more than a pull or push should do unasked.

use crate::input;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The credential options of the command line.
#[derive(Debug, Clone, Default)]
pub struct AuthArgs {
    /// `--authfile FILE`: an auth file searched before all others; it must exist.
    pub authfile: Option<PathBuf>,
    /// `--creds USER:PASSWORD`: used as they are, no file read.
    pub creds: Option<String>,
}

/// A user name and password for one registry, and where they were found.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    password: String,
    /// `--creds`, or the auth file's path: for the error when the registry refuses them.
    pub origin: String,
}

impl Credentials {
    /// The value of an `Authorization` header carrying them.
    pub fn basic_header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

impl fmt::Debug for Credentials {
    /// Without the password, which must not reach a log or an assertion message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({:?} from {})", self.username, self.origin)
    }
}

/// What a client may answer when a registry asks who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Never credentials: pullImage, whose sandbox has none to find.
    Anonymous,
    Found(Credentials),
    /// None for this registry: the places looked in, for the error that says so.
    NotFound(Vec<String>),
}

/// Finds the credentials for `registry`, as an image reference names it (`docker.io`,
/// `127.0.0.1:5000`), from the command line, the environment and the auth files.
pub fn login(args: &AuthArgs, registry: &str) -> Result<Login, String> {
    find(args, registry, &|name| {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    })
}

/// [`login`] with the environment given as a function, so tests need not change the
/// process's.
fn find(
    args: &AuthArgs,
    registry: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Login, String> {
    if let Some(creds) = &args.creds {
        return creds_argument(creds).map(Login::Found);
    }
    let mut looked = Vec::new();
    for (file, required) in auth_files(args, env) {
        let bytes = match input::read_bounded(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !required => {
                looked.push(file.display().to_string());
                continue;
            }
            Err(e) => return Err(format!("auth file {}: {e}", file.display())),
        };
        looked.push(file.display().to_string());
        if let Some(credentials) = entry_for(&bytes, &file, registry)? {
            return Ok(Login::Found(credentials));
        }
    }
    Ok(Login::NotFound(looked))
}

/// `--creds USER:PASSWORD`. Unlike podman, no prompt for a missing password: there
/// may be nobody to answer it.
fn creds_argument(creds: &str) -> Result<Credentials, String> {
    match creds.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(Credentials {
            username: user.to_owned(),
            password: password.to_owned(),
            origin: "--creds".to_owned(),
        }),
        _ => Err("--creds: give USER:PASSWORD".to_owned()),
    }
}

/// The auth files to search, in order, each with whether it must exist: one named
/// explicitly must, a default location need not.
fn auth_files(args: &AuthArgs, env: &dyn Fn(&str) -> Option<String>) -> Vec<(PathBuf, bool)> {
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    files.extend(args.authfile.clone().map(|f| (f, true)));
    files.extend(env("REGISTRY_AUTH_FILE").map(|f| (PathBuf::from(f), true)));
    let home = env("HOME").map(PathBuf::from);
    let containers = Path::new("containers/auth.json");
    files.extend(env("XDG_RUNTIME_DIR").map(|d| (Path::new(&d).join(containers), false)));
    let config = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    files.extend(config.map(|d| (d.join(containers), false)));
    let docker = env("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".docker")));
    files.extend(docker.map(|d| (d.join("config.json"), false)));
    files
}

/// The credentials the auth file `bytes` (read from `file`) holds for `registry`:
/// `credHelpers` first (refused), then `auths`, then `credsStore` (refused).
pub fn entry_for(bytes: &[u8], file: &Path, registry: &str) -> Result<Option<Credentials>, String> {
    let bad = |field: &str, why: &str| format!("auth file {}: {field}: {why}", file.display());
    let json: Value =
        serde_json::from_slice(bytes).map_err(|e| bad("the file", &format!("not JSON ({e})")))?;
    let top = json
        .as_object()
        .ok_or_else(|| bad("the file", "not an object"))?;
    let section = |name: &str| match top.get(name) {
        None => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(bad(name, "not an object")),
    };
    if let Some(helpers) = section("credHelpers")? {
        if let Some((key, helper)) = matching(helpers, registry).next() {
            let field = format!("credHelpers.{key:?}");
            let name = helper.as_str().ok_or_else(|| bad(&field, "not a string"))?;
            return Err(bad(&field, &helper_refused(name, registry)));
        }
    }
    for (key, value) in matching(section("auths")?.unwrap_or(&Map::new()), registry) {
        let field = format!("auths.{key:?}");
        let origin = file.display().to_string();
        if let Some(credentials) = credentials_of(value, &origin).map_err(|e| bad(&field, &e))? {
            return Ok(Some(credentials));
        }
    }
    match top.get("credsStore") {
        Some(Value::String(name)) => Err(bad("credsStore", &helper_refused(name, registry))),
        Some(_) => Err(bad("credsStore", "not a string")),
        None => Ok(None),
    }
}

/// The error for a credential helper: what stowage does instead.
fn helper_refused(name: &str, registry: &str) -> String {
    format!(
        "names the credential helper docker-credential-{name}, and stowage runs no credential helpers; give the credentials with --creds USER:PASSWORD, or in an auth file of their own (podman login --authfile FILE {registry}) given with --authfile"
    )
}

/// The entries of `map` whose key names `registry`: the key exactly as the registry
/// first, then the other spellings in the file's order.
fn matching<'a>(
    map: &'a Map<String, Value>,
    registry: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    let exact = map.iter().filter(move |(key, _)| *key == registry);
    let other = map
        .iter()
        .filter(move |(key, _)| *key != registry && names_registry(key, registry));
    exact.chain(other)
}

/// True when the auth file key `key` names `registry`: as a host, an `https://host`
/// URL, or `host/v1/` (Docker's old form); Docker Hub under any of its three names.
fn names_registry(key: &str, registry: &str) -> bool {
    let host = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = ["/v1/", "/v1", "/v2/", "/v2", "/"]
        .iter()
        .find_map(|suffix| host.strip_suffix(suffix))
        .unwrap_or(host);
    let hub = ["docker.io", "index.docker.io", "registry-1.docker.io"];
    host == registry || hub.contains(&host) && hub.contains(&registry)
}

/// The credentials of one `auths` entry: `auth` (base64 of `user:password`), or
/// `username` and `password`; `None` for an entry without any (Docker Desktop writes
/// `{}` beside its credential store).
fn credentials_of(value: &Value, origin: &str) -> Result<Option<Credentials>, String> {
    let entry = value.as_object().ok_or("not an object")?;
    let text = |name: &str| match entry.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(format!("{name}: not a string")),
    };
    let pair = match (text("auth")?, text("username")?, text("password")?) {
        (Some(auth), _, _) => decode_auth(auth)?,
        (None, Some(user), Some(password)) => (user.to_owned(), password.to_owned()),
        (None, Some(_), None) => return Err("username without a password".into()),
        (None, None, _) if text("identitytoken")?.is_some() => {
            return Err("holds only an identity token (an OAuth login), which stowage cannot use; give --creds USER:PASSWORD".into())
        }
        (None, None, _) => return Ok(None),
    };
    Ok(Some(Credentials {
        username: pair.0,
        password: pair.1,
        origin: origin.to_owned(),
    }))
}

/// `auth`'s base64 of `user:password`. The decoder's own message is left out: it would
/// quote a byte of the secret.
fn decode_auth(auth: &str) -> Result<(String, String), String> {
    let malformed = || "auth: not the base64 of USER:PASSWORD".to_owned();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        _ => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `user:password` as an auth file's `auth` value.
    fn auth(pair: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(pair)
    }

    /// Runs [`find`] with exactly the environment `vars`.
    fn find_with(args: &AuthArgs, registry: &str, vars: &[(&str, &Path)]) -> Result<Login, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.display().to_string()))
            .collect();
        find(args, registry, &|name| vars.get(name).cloned())
    }

    fn found(login: Result<Login, String>) -> (String, String, String) {
        match login {
            Ok(Login::Found(c)) => (c.username, c.password, c.origin),
            other => panic!("no credentials: {other:?}"),
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let file = dir.join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn every_key_form_and_value_form_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let hub = auth("hubuser:hubpass");
        let file = write(
            dir.path(),
            "auth.json",
            &format!(
                r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{hub}"}},
                "https://ghcr.io":{{"username":"g","password":"gp"}},
                "quay.io/v1/":{{"auth":"{}"}},
                "127.0.0.1:5000":{{"auth":"{}"}}}}}}"#,
                auth("q:qp"),
                auth("alice:pa:ss")
            ),
        );
        let args = AuthArgs {
            authfile: Some(file.clone()),
            creds: None,
        };
        let origin = file.display().to_string();
        let get = |registry| found(find_with(&args, registry, &[]));
        assert_eq!(
            get("docker.io"),
            ("hubuser".into(), "hubpass".into(), origin.clone())
        );
        assert_eq!(get("registry-1.docker.io").0, "hubuser");
        assert_eq!(get("ghcr.io").1, "gp");
        assert_eq!(get("quay.io").0, "q");
        assert_eq!(get("127.0.0.1:5000").1, "pa:ss");
        assert_eq!(
            find_with(&args, "example.com", &[]).unwrap(),
            Login::NotFound(vec![origin])
        );
    }

    #[test]
    fn sources_are_searched_in_containers_order() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |user: &str| {
            format!(
                r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#,
                auth(&format!("{user}:p"))
            )
        };
        let explicit = write(dir.path(), "explicit.json", &entry("explicit"));
        let env_file = write(dir.path(), "env.json", &entry("env"));
        let runtime = dir.path().join("run");
        write(&runtime, "containers/auth.json", &entry("runtime"));
        let home = dir.path().join("home");
        write(&home, ".config/containers/auth.json", r#"{"auths":{}}"#);
        write(&home, ".docker/config.json", &entry("docker"));
        let all: &[(&str, &Path)] = &[
            ("REGISTRY_AUTH_FILE", &env_file),
            ("XDG_RUNTIME_DIR", &runtime),
            ("HOME", &home),
        ];
        let user = |args: &AuthArgs, vars: &[(&str, &Path)]| found(find_with(args, "r.io", vars)).0;
        let none = AuthArgs::default();
        let with_file = AuthArgs {
            authfile: Some(explicit),
            creds: None,
        };
        let with_creds = AuthArgs {
            authfile: None,
            creds: Some("c:secret".into()),
        };
        assert_eq!(user(&with_creds, all), "c");
        assert_eq!(user(&with_file, all), "explicit");
        assert_eq!(user(&none, all), "env");
        assert_eq!(user(&none, &all[1..]), "runtime");
        assert_eq!(user(&none, &all[2..]), "docker");
        let docker_dir = dir.path().join("dc");
        write(&docker_dir, "config.json", &entry("docker-config"));
        assert_eq!(
            user(&none, &[("HOME", &home), ("DOCKER_CONFIG", &docker_dir)]),
            "docker-config"
        );
        let Ok(Login::NotFound(looked)) = find_with(&none, "other.io", &all[1..]) else {
            panic!("found credentials for other.io")
        };
        assert_eq!(looked.len(), 3, "{looked:?}");
        assert!(
            looked[0].ends_with("run/containers/auth.json"),
            "{looked:?}"
        );
    }

    #[test]
    fn a_named_file_must_exist_and_a_default_one_need_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = find_with(
            &AuthArgs::default(),
            "r.io",
            &[("REGISTRY_AUTH_FILE", &missing)],
        )
        .unwrap_err();
        assert!(
            err.starts_with("auth file ") && err.contains("No such file"),
            "{err}"
        );
        let login = find_with(
            &AuthArgs::default(),
            "r.io",
            &[("XDG_RUNTIME_DIR", dir.path())],
        );
        assert!(matches!(login, Ok(Login::NotFound(_))), "{login:?}");
    }

    #[test]
    fn malformed_files_name_the_file_and_field_and_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("{", "the file: not JSON"),
            ("[]", "the file: not an object"),
            (r#"{"auths":[]}"#, "auths: not an object"),
            (
                r#"{"auths":{"r.io":"x"}}"#,
                r#"auths."r.io": not an object"#,
            ),
            (
                r#"{"auths":{"r.io":{"auth":"%%secret%%"}}}"#,
                r#"auths."r.io": auth: not the base64 of USER:PASSWORD"#,
            ),
            (
                r#"{"auths":{"r.io":{"auth":"bm9jb2xvbg=="}}}"#,
                "not the base64 of USER:PASSWORD",
            ),
            (r#"{"auths":{"r.io":{"auth":7}}}"#, "auth: not a string"),
            (
                r#"{"auths":{"r.io":{"username":"u"}}}"#,
                "username without a password",
            ),
            (
                r#"{"auths":{"r.io":{"identitytoken":"t"}}}"#,
                "identity token",
            ),
            (
                r#"{"credHelpers":{"r.io":"pass"}}"#,
                r#"credHelpers."r.io": names the credential helper docker-credential-pass, and stowage runs no credential helpers; give the credentials with --creds"#,
            ),
            (
                r#"{"auths":{"r.io":{}},"credsStore":"desktop"}"#,
                "credsStore: names the credential helper docker-credential-desktop",
            ),
        ];
        for (text, expected) in cases {
            let file = write(dir.path(), "auth.json", text);
            let args = AuthArgs {
                authfile: Some(file.clone()),
                creds: None,
            };
            let err = find_with(&args, "r.io", &[]).unwrap_err();
            assert!(
                err.starts_with(&format!("auth file {}: ", file.display())),
                "{err}"
            );
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
        // A helper for another registry, or a store beside an entry of its own, is no
        // obstacle.
        let file = write(
            dir.path(),
            "auth.json",
            &format!(
                r#"{{"credHelpers":{{"x.io":"pass"}},"credsStore":"desktop","auths":{{"r.io":{{"auth":"{}"}}}}}}"#,
                auth("u:p")
            ),
        );
        let args = AuthArgs {
            authfile: Some(file),
            creds: None,
        };
        assert_eq!(found(find_with(&args, "r.io", &[])).0, "u");
    }

    #[test]
    fn creds_argument_and_the_basic_header() {
        let err = find_with(
            &AuthArgs {
                authfile: None,
                creds: Some("alice".into()),
            },
            "r.io",
            &[],
        )
        .unwrap_err();
        assert_eq!(err, "--creds: give USER:PASSWORD");
        let credentials = creds_argument("alice:open sesame").unwrap();
        assert_eq!(credentials.basic_header(), "Basic YWxpY2U6b3BlbiBzZXNhbWU=");
        assert_eq!(
            format!("{credentials:?}"),
            r#"Credentials("alice" from --creds)"#
        );
    }
}
