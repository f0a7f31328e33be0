//! Which API socket a command talks to: the one named on the command line, or the one
//! the engine's own client would use (`DOCKER_HOST`; for podman `CONTAINER_HOST`, then
//! the rootless or rootful service socket).

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The engine asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineChoice {
    /// Docker's socket: `$DOCKER_HOST`, else /var/run/docker.sock.
    Docker,
    /// podman's service (`podman system service`): `$CONTAINER_HOST`, else
    /// `$XDG_RUNTIME_DIR/podman/podman.sock` for a user, /run/podman/podman.sock for root.
    Podman,
    /// A `unix://` address given with `--host`.
    Host(String),
}

/// Where Docker's engine listens unless `DOCKER_HOST` says otherwise.
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Where root's podman service listens.
const PODMAN_ROOT_SOCKET: &str = "/run/podman/podman.sock";

/// The socket of `choice`, with the environment read through `env` and `is_root` telling
/// whether podman would run rootful.
pub fn socket_path(
    choice: &EngineChoice,
    env: impl Fn(&str) -> Option<OsString>,
    is_root: bool,
) -> Result<PathBuf> {
    // An empty variable counts as unset, as the engines' clients read it.
    let var = |name: &str| env(name).filter(|v| !v.is_empty());
    match choice {
        EngineChoice::Host(address) => unix_path(address, "--host"),
        EngineChoice::Docker => match var("DOCKER_HOST") {
            Some(host) => unix_path(&host.to_string_lossy(), "DOCKER_HOST"),
            None => Ok(PathBuf::from(DOCKER_SOCKET)),
        },
        EngineChoice::Podman => match (var("CONTAINER_HOST"), var("XDG_RUNTIME_DIR")) {
            (Some(host), _) => unix_path(&host.to_string_lossy(), "CONTAINER_HOST"),
            (None, Some(runtime)) if !is_root => Ok(Path::new(&runtime).join("podman/podman.sock")),
            _ => Ok(PathBuf::from(PODMAN_ROOT_SOCKET)),
        },
    }
}

/// The socket path of a `unix://PATH` address that `source` gave; any other scheme is
/// refused, since stowage speaks to engines only through their local socket.
fn unix_path(address: &str, source: &str) -> Result<PathBuf> {
    match address.strip_prefix("unix://") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(Error::engine(
            format!("{address} ({source})"),
            "only unix:// sockets are supported; give the engine's socket as unix:///PATH \
             (forward a remote engine's socket with `ssh -L /tmp/engine.sock:/var/run/docker.sock HOST`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The socket of `choice` in an environment of `vars`.
    fn socket(choice: EngineChoice, vars: &[(&str, &str)], is_root: bool) -> Result<PathBuf> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        let env = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        socket_path(&choice, env, is_root)
    }

    #[test]
    fn sockets_come_from_the_flag_the_environment_or_the_engines_defaults() {
        let expect = |choice: EngineChoice, vars: &[(&str, &str)], is_root, expected: &str| {
            let found = socket(choice.clone(), vars, is_root).unwrap();
            assert_eq!(found, Path::new(expected), "{choice:?} {vars:?}");
        };
        let (docker, podman) = (EngineChoice::Docker, EngineChoice::Podman);
        expect(docker.clone(), &[], true, "/var/run/docker.sock");
        expect(
            docker.clone(),
            &[("DOCKER_HOST", "")],
            true,
            "/var/run/docker.sock",
        );
        let host = [("DOCKER_HOST", "unix:///tmp/d.sock")];
        expect(docker, &host, true, "/tmp/d.sock");
        let root_runtime = [("XDG_RUNTIME_DIR", "/run/user/0")];
        expect(
            podman.clone(),
            &root_runtime,
            true,
            "/run/podman/podman.sock",
        );
        let user_runtime = [("XDG_RUNTIME_DIR", "/run/user/1000")];
        let rootless = "/run/user/1000/podman/podman.sock";
        expect(podman.clone(), &user_runtime, false, rootless);
        expect(podman.clone(), &[], false, "/run/podman/podman.sock");
        let both = [("CONTAINER_HOST", "unix:///tmp/p.sock"), user_runtime[0]];
        expect(podman, &both, false, "/tmp/p.sock");
        let flag = EngineChoice::Host("unix:///tmp/h.sock".into());
        expect(
            flag,
            &[("DOCKER_HOST", "tcp://1.2.3.4:2375")],
            true,
            "/tmp/h.sock",
        );
    }

    #[test]
    fn a_tcp_or_ssh_address_is_one_clear_error() {
        let err = socket(
            EngineChoice::Docker,
            &[("DOCKER_HOST", "tcp://1.2.3.4:2375")],
            true,
        )
        .unwrap_err();
        assert!(
            err.one_line().starts_with(
                "container engine at tcp://1.2.3.4:2375 (DOCKER_HOST): only unix:// sockets are supported;"
            ),
            "{err}"
        );
        let err = socket(EngineChoice::Host("ssh://me@host".into()), &[], true).unwrap_err();
        assert!(err
            .one_line()
            .starts_with("container engine at ssh://me@host (--host): only unix://"));
        let err = socket(EngineChoice::Podman, &[("CONTAINER_HOST", "unix://")], true).unwrap_err();
        assert!(err
            .one_line()
            .starts_with("container engine at unix:// (CONTAINER_HOST):"));
    }
}
