//! `POST /images/load`: a docker-archive streamed into an engine's API socket (Docker's,
//! or podman's Docker-compatible service), and the engine's answer read back: a stream
//! of JSON messages (`{"stream":"Loaded image: x:y\n"}`, `{"error":…,"errorDetail":…}`),
//! or an error status with a JSON body (`{"message":…}`).

use crate::engine::socket::{read_response, write_chunked_request_head, ChunkedWriter};
use crate::error::{Error, Result};
use serde_json::Value;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Quiet: the engine then sends no progress messages while it reads, which nothing
/// would read while the archive is still being written; only its verdict at the end.
const LOAD_TARGET: &str = "/images/load?quiet=1";

/// The buffer between the archive writer and the socket: it batches chunk framing and
/// small writes; larger writes go straight through.
const SEND_BUFFER: usize = 64 << 10;

/// The longest message (or error body) of an engine's answer; theirs are a few hundred
/// bytes.
const MAX_MESSAGE: usize = 64 << 10;

/// The most bytes of loaded-image lines kept from one answer.
const MAX_LOADED: usize = 64 << 10;

/// How long an engine that stopped reading the archive has to say why.
const VERDICT_AFTER_FAILED_SEND: Duration = Duration::from_secs(10);

/// Why an answer is not a success.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The engine said no, and this is what it said.
    Refused(String),
    /// There was no answer that could be read, or it broke the protocol.
    Unreadable(String),
}

/// Loads the archive that `write_archive` writes (to the writer it gets, named by the
/// target it gets in errors) into the engine listening on `socket`, and returns the
/// lines in which the engine named what it loaded (`Loaded image: name:tag`).
pub fn load(
    socket: &Path,
    write_archive: impl FnOnce(&mut dyn Write, &str) -> Result<()>,
) -> Result<Vec<String>> {
    let endpoint = socket.display().to_string();
    let stream = UnixStream::connect(socket).map_err(|e| Error::engine(&endpoint, advice(&e)))?;
    let target = format!("the engine's socket {endpoint}");
    if let Err(err) = send(&stream, &target, write_archive) {
        // Only the socket fails a write here; reading the image fails otherwise.
        let Error::Write { source, .. } = err else {
            return Err(err);
        };
        // An engine that refuses the archive stops reading it; its answer says why,
        // which is more use than the broken pipe (which, as a write error, would
        // even pass for a reader that chose to stop).
        let _ = stream.set_read_timeout(Some(VERDICT_AFTER_FAILED_SEND));
        let message = match read_answer(BufReader::new(&stream)) {
            Err(Refusal::Refused(message)) => message,
            _ => format!("it stopped reading the image without saying why ({source})"),
        };
        return Err(Error::engine(endpoint, message));
    }
    read_answer(BufReader::new(&stream)).map_err(|refusal| match refusal {
        Refusal::Refused(message) | Refusal::Unreadable(message) => {
            Error::engine(endpoint, message)
        }
    })
}

/// What to do about a socket that cannot be connected to.
fn advice(err: &io::Error) -> String {
    const START: &str = "start the engine (Docker: `systemctl start docker` or `dockerd`; \
         podman: `podman system service`) or name its socket with --host unix:///PATH";
    match err.kind() {
        io::ErrorKind::NotFound => format!("no such socket; is the engine running? {START}"),
        io::ErrorKind::ConnectionRefused => {
            format!("nothing listens on it (connection refused); {START}")
        }
        io::ErrorKind::PermissionDenied => "permission denied; run as root or as a user \
             allowed to use the engine (for Docker, a member of the docker group)"
            .to_owned(),
        _ => format!("cannot connect: {err}"),
    }
}

/// Writes the request: its head, then the archive as a chunked body.
fn send(
    stream: &UnixStream,
    target: &str,
    write_archive: impl FnOnce(&mut dyn Write, &str) -> Result<()>,
) -> Result<()> {
    let failed = |e| Error::write(target, e);
    let mut out = BufWriter::with_capacity(SEND_BUFFER, stream);
    write_chunked_request_head(&mut out, "POST", LOAD_TARGET, "application/x-tar")
        .map_err(failed)?;
    let mut body = ChunkedWriter::new(out);
    write_archive(&mut body, target)?;
    body.finish().map_err(failed)?;
    Ok(())
}

/// Reads the engine's answer to a load from `reader`: the lines naming what it loaded,
/// or why not.
pub fn read_answer(reader: impl BufRead) -> Result<Vec<String>, Refusal> {
    let unreadable = |e: io::Error| Refusal::Unreadable(format!("its answer cannot be read: {e}"));
    let response = read_response(reader).map_err(unreadable)?;
    if !(200..300).contains(&response.status) {
        let mut text = Vec::new();
        // What arrived of the body is enough to say why; the status says it failed.
        let _ = response
            .body
            .take(MAX_MESSAGE as u64)
            .read_to_end(&mut text);
        let why = serde_json::from_slice::<Value>(&text)
            .ok()
            .and_then(|json| {
                json.get("message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&text).trim().to_owned());
        let status = format!("HTTP {} {}", response.status, response.reason.trim());
        return Err(Refusal::Refused(if why.is_empty() {
            format!("it refused the image ({status})")
        } else {
            format!("it refused the image: {why} ({status})")
        }));
    }
    loaded_lines(BufReader::new(response.body))
}

/// The loaded-image lines of a stream of messages, or the first error message in it.
fn loaded_lines(mut messages: impl BufRead) -> Result<Vec<String>, Refusal> {
    let mut loaded = Vec::new();
    let mut kept = 0;
    let mut buffer = Vec::new();
    while let Some(message) = next_message(&mut messages, &mut buffer)? {
        if let Some(error) = error_of(&message) {
            return Err(Refusal::Refused(format!("it refused the image: {error}")));
        }
        let Some(text) = message.get("stream").and_then(Value::as_str) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if line.starts_with("Loaded image") {
                kept += line.len();
                if kept > MAX_LOADED {
                    return Err(Refusal::Unreadable(format!(
                        "its answer names more than {} KiB of loaded images",
                        MAX_LOADED >> 10
                    )));
                }
                loaded.push(line.to_owned());
            }
        }
    }
    if loaded.is_empty() {
        return Err(Refusal::Unreadable(
            "its answer names no loaded image".to_owned(),
        ));
    }
    Ok(loaded)
}

/// The error a message reports (`errorDetail.message`, else `error`), if it is one.
fn error_of(message: &Value) -> Option<String> {
    let detail = message
        .pointer("/errorDetail/message")
        .and_then(Value::as_str);
    match (detail, message.get("error")) {
        (Some(text), _) => Some(text.to_owned()),
        (None, Some(Value::String(text))) => Some(text.clone()),
        (None, Some(Value::Null) | None) => None,
        (None, Some(other)) => Some(other.to_string()),
    }
}

/// The next JSON object of a message stream (objects one after another, whitespace
/// between them allowed), each at most [`MAX_MESSAGE`] bytes, read through `buffer`;
/// `None` at the end.
fn next_message(reader: &mut impl BufRead, buffer: &mut Vec<u8>) -> Result<Option<Value>, Refusal> {
    let bad = |why: String| Refusal::Unreadable(format!("its answer is {why}"));
    buffer.clear();
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in reader.bytes() {
        let byte = byte.map_err(|e| bad(format!("cut short: {e}")))?;
        if buffer.is_empty() {
            if byte.is_ascii_whitespace() {
                continue;
            }
            if byte != b'{' {
                return Err(bad(format!(
                    "not a stream of JSON objects (it has {:?} where one should start)",
                    char::from(byte)
                )));
            }
        }
        if buffer.len() == MAX_MESSAGE {
            return Err(bad(format!(
                "a message longer than {} KiB",
                MAX_MESSAGE >> 10
            )));
        }
        buffer.push(byte);
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
        if depth == 0 {
            return serde_json::from_slice(buffer)
                .map(Some)
                .map_err(|e| bad(format!("not JSON: {e}")));
        }
    }
    if buffer.is_empty() {
        Ok(None)
    } else {
        Err(bad("cut short inside a message".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer with `status` and a chunked body of `body`, as Docker sends it.
    fn answer(status: &str, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
        .into_bytes()
    }

    fn refused(message: &str) -> Result<Vec<String>, Refusal> {
        Err(Refusal::Refused(message.to_owned()))
    }

    fn unreadable(message: &str) -> Result<Vec<String>, Refusal> {
        Err(Refusal::Unreadable(message.to_owned()))
    }

    #[test]
    fn loaded_images_are_read_from_the_message_stream() {
        let body = "{\"stream\":\"Loaded image: a:b\\n\"}\r\n{\"stream\":\"Loaded image ID: sha256:00\\n\"}{\"status\":\"x\",\"stream\":null}\n";
        assert_eq!(
            read_answer(&answer("200 OK", body)[..]),
            Ok(vec![
                "Loaded image: a:b".to_owned(),
                "Loaded image ID: sha256:00".to_owned()
            ])
        );
        // podman's compatible service: a sized body.
        let podman = b"HTTP/1.1 200 OK\r\nContent-Length: 43\r\n\r\n{\"stream\":\"Loaded image: localhost/a:b\\n\"}\n";
        assert_eq!(
            read_answer(&podman[..]),
            Ok(vec!["Loaded image: localhost/a:b".to_owned()])
        );
    }

    #[test]
    fn an_engines_error_is_its_refusal() {
        let docker = r#"{"errorDetail":{"message":"Error processing tar file(exit status 1): unexpected EOF"},"error":"Error processing tar file(exit status 1): unexpected EOF"}"#;
        assert_eq!(
            read_answer(&answer("200 OK", docker)[..]),
            refused(
                "it refused the image: Error processing tar file(exit status 1): unexpected EOF"
            )
        );
        let podman = r#"{"cause":"x","message":"failed to load image: payload does not match","response":500}"#;
        assert_eq!(
            read_answer(&answer("500 Internal Server Error", podman)[..]),
            refused("it refused the image: failed to load image: payload does not match (HTTP 500 Internal Server Error)")
        );
        assert_eq!(
            read_answer(&answer("404 Not Found", "page not found\n")[..]),
            refused("it refused the image: page not found (HTTP 404 Not Found)")
        );
        assert_eq!(
            read_answer(&b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"[..]),
            refused("it refused the image (HTTP 503 Busy)")
        );
        assert_eq!(
            read_answer(&answer("200 OK", r#"{"error":{"code":7}}"#)[..]),
            refused(r#"it refused the image: {"code":7}"#)
        );
    }

    #[test]
    fn hostile_message_streams_are_refused_with_a_reason() {
        let long = format!("{{\"stream\":\"{}\"}}", "a".repeat(MAX_MESSAGE));
        let many = "{\"stream\":\"Loaded image: a\\n\"}".repeat(MAX_LOADED / 10);
        let deep = format!("{}{}", "{\"a\":[".repeat(200), "]}".repeat(200));
        let cases = [
            (
                "<html>",
                "its answer is not a stream of JSON objects (it has '<' where one should start)",
            ),
            (
                "{\"stream\": nope}",
                "its answer is not JSON: expected ident at line 1 column 13",
            ),
            (
                "{\"stream\":\"Loaded",
                "its answer is cut short inside a message",
            ),
            (long.as_str(), "its answer is a message longer than 64 KiB"),
            (
                many.as_str(),
                "its answer names more than 64 KiB of loaded images",
            ),
            (
                deep.as_str(),
                "its answer is not JSON: recursion limit exceeded at line 1 column 384",
            ),
            ("", "its answer names no loaded image"),
            (
                "{\"stream\":\"Loaded image: a\\n\"} [1]",
                "its answer is not a stream of JSON objects (it has '[' where one should start)",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                read_answer(&answer("200 OK", body)[..]),
                unreadable(expected),
                "{body:.80}"
            );
        }
        assert_eq!(
            read_answer(&b""[..]),
            unreadable("its answer cannot be read: the connection closed without a response")
        );
    }

    /// Serves one connection on a socket in `dir`: reads the request up to its last
    /// chunk or `limit` bytes, answers `answer` and closes. Returns the socket and the
    /// server thread, which gives what it read.
    fn engine(
        dir: &Path,
        limit: usize,
        answer: Vec<u8>,
    ) -> (std::path::PathBuf, std::thread::JoinHandle<Vec<u8>>) {
        let socket = dir.join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (mut connection, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buffer = [0; 4096];
            while request.len() < limit && !request.ends_with(b"\r\n0\r\n\r\n") {
                let n = connection.read(&mut buffer).unwrap();
                request.extend_from_slice(&buffer[..n]);
            }
            connection.write_all(&answer).unwrap();
            request
        });
        (socket, server)
    }

    #[test]
    fn an_archive_goes_out_chunked_and_the_loaded_images_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"stream\":\"Loaded image: a:b\\n\"}\r\n";
        let (socket, server) = engine(dir.path(), usize::MAX, answer("200 OK", body));
        let loaded = load(&socket, |out, target| {
            out.write_all(b"the archive")
                .map_err(|e| Error::write(target, e))
        });
        let request = String::from_utf8(server.join().unwrap()).unwrap();
        assert_eq!(loaded.unwrap(), vec!["Loaded image: a:b".to_owned()]);
        assert!(
            request.starts_with("POST /images/load?quiet=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.ends_with("\r\n\r\nb\r\nthe archive\r\n0\r\n\r\n"),
            "{request}"
        );
    }

    /// The error of sending 64 MiB to an engine that reads 4 KiB and answers `answer`.
    fn stopped_reading(answer: Vec<u8>) -> (String, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (socket, server) = engine(dir.path(), 4096, answer);
        let err = load(&socket, |out, target| {
            let block = vec![b'x'; 1 << 20];
            for _ in 0..64 {
                out.write_all(&block).map_err(|e| Error::write(target, e))?;
            }
            Ok(())
        })
        .unwrap_err();
        server.join().unwrap();
        assert!(!err.is_broken_pipe(), "{err}");
        (err.one_line(), socket)
    }

    #[test]
    fn an_engine_that_stops_reading_is_heard_not_the_broken_pipe() {
        let refusal = r#"{"errorDetail":{"message":"not a tar"},"error":"not a tar"}"#;
        let (err, socket) = stopped_reading(answer("200 OK", refusal));
        let engine = format!("container engine at {}", socket.display());
        assert_eq!(err, format!("{engine}: it refused the image: not a tar"));
        let (err, _) = stopped_reading(Vec::new());
        assert!(
            err.contains(": it stopped reading the image without saying why ("),
            "{err}"
        );
    }
}
