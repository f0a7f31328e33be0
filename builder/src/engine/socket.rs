//! A minimal HTTP/1.1 client for a container engine's API socket: a request head, a body
//! sent with chunked transfer encoding (its length is not known before it is written),
//! and the response's status, headers and body read back with every length bounded.
//!
//! The engine is trusted to load images, not to answer well: a response is read line by
//! line with a cap on each line and on the number of headers, and chunk sizes and
//! `Content-Length` only limit reads, never size an allocation.

use std::io::{self, BufRead, Read, Write};

/// The longest line of a response head or chunk-size line; the engines send lines of a
/// few hundred bytes.
const MAX_LINE: u64 = 8 << 10;

/// The most header (or trailer) lines a response may have.
const MAX_HEADERS: usize = 100;

/// How many interim (1xx) responses may come before the final one.
const MAX_INTERIM: usize = 8;

/// Writes the head of a request for `target` whose body follows with chunked transfer
/// encoding. `Connection: close`: one request per connection, so the end of the
/// response is the end of the stream.
pub fn write_chunked_request_head(
    out: &mut impl Write,
    method: &str,
    target: &str,
    content_type: &str,
) -> io::Result<()> {
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: stowage/{}\r\n\
         Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    out.write_all(head.as_bytes())
}

/// A request body in chunked transfer encoding: each write is one chunk; [`finish`]
/// writes the last, empty one.
///
/// [`finish`]: ChunkedWriter::finish
pub struct ChunkedWriter<W: Write> {
    inner: W,
}

impl<W: Write> ChunkedWriter<W> {
    /// A body written into `inner`, after the request head.
    pub fn new(inner: W) -> Self {
        ChunkedWriter { inner }
    }

    /// Ends the body and flushes it; returns the writer it went to.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.write_all(b"0\r\n\r\n")?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ChunkedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // An empty chunk would end the body.
        if buf.is_empty() {
            return Ok(0);
        }
        write!(self.inner, "{:x}\r\n", buf.len())?;
        self.inner.write_all(buf)?;
        self.inner.write_all(b"\r\n")?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A response: its status and reason, and a reader of its body.
pub struct Response<R> {
    pub status: u16,
    pub reason: String,
    pub body: Body<R>,
}

/// How the end of a response body is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Chunked,
    Length(u64),
    /// Neither: the body ends when the engine closes the connection.
    UntilClose,
}

/// Reads a response head from `reader` (interim 1xx responses skipped) and returns the
/// response, whose body reads on from `reader`.
pub fn read_response<R: BufRead>(mut reader: R) -> io::Result<Response<R>> {
    for _ in 0..=MAX_INTERIM {
        let line = read_line(&mut reader)?
            .ok_or_else(|| invalid("the connection closed without a response"))?;
        let (status, reason) = parse_status_line(&line)?;
        let framing = read_headers(&mut reader)?;
        // 101 switches protocols: a final answer, and not one we asked for.
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        return Ok(Response {
            status,
            reason,
            body: Body::new(reader, framing),
        });
    }
    Err(invalid(format!(
        "more than {MAX_INTERIM} interim (1xx) responses"
    )))
}

/// The status code and reason of a status line (`HTTP/1.1 200 OK`).
fn parse_status_line(line: &str) -> io::Result<(u16, String)> {
    let bad = || invalid(format!("not an HTTP response: {line:?}"));
    let rest = line.strip_prefix("HTTP/1.").ok_or_else(bad)?;
    let mut parts = rest.splitn(3, ' ');
    let _minor = parts.next().filter(|m| m.len() == 1).ok_or_else(bad)?;
    let code = parts.next().ok_or_else(bad)?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let status = code.parse().map_err(|_| bad())?;
    Ok((status, parts.next().unwrap_or("").to_owned()))
}

/// Reads header lines up to the empty line and returns how the body is framed.
fn read_headers(reader: &mut impl BufRead) -> io::Result<Framing> {
    let mut chunked = None;
    let mut length = None;
    for _ in 0..=MAX_HEADERS {
        let line = read_line(reader)?.ok_or_else(|| invalid("the response head ended early"))?;
        if line.is_empty() {
            return Ok(match (chunked, length) {
                (Some(true), _) => Framing::Chunked,
                // A transfer coding other than chunked last: the body runs to the close.
                (Some(false), _) | (None, None) => Framing::UntilClose,
                (None, Some(length)) => Framing::Length(length),
            });
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("a header line without a colon: {line:?}")))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            chunked = Some(last.eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("content-length") {
            let parsed = parse_decimal(value)
                .ok_or_else(|| invalid(format!("a bad Content-Length: {value:?}")))?;
            if length.is_some_and(|l| l != parsed) {
                return Err(invalid("two different Content-Length headers"));
            }
            length = Some(parsed);
        }
    }
    Err(invalid(format!("more than {MAX_HEADERS} header lines")))
}

/// A line of at most [`MAX_LINE`] bytes without its line ending (CRLF, or a bare LF),
/// or `None` when the stream ended before any byte of it.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    reader.take(MAX_LINE + 1).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.len() as u64 > MAX_LINE {
        return Err(invalid(format!(
            "a line longer than {} KiB",
            MAX_LINE >> 10
        )));
    }
    if line.pop() != Some(b'\n') {
        return Err(invalid("the response ended in the middle of a line"));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// A decimal number of only digits (no sign, no spaces), if it fits in a u64.
fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A chunk size: hex digits (at most 16, so it fits), then optional `;extensions`.
fn parse_chunk_size(line: &str) -> io::Result<u64> {
    let digits = line.split(';').next().unwrap_or("").trim();
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!("a bad chunk size: {line:?}")));
    }
    u64::from_str_radix(digits, 16).map_err(|_| invalid(format!("a bad chunk size: {line:?}")))
}

/// Where a body reader stands.
#[derive(Debug)]
enum State {
    /// Before a chunk-size line; `after_chunk`: a chunk's CRLF comes first.
    ChunkStart {
        after_chunk: bool,
    },
    /// Inside a chunk, this many bytes left.
    InChunk(u64),
    /// A body of known length, this many bytes left.
    Remaining(u64),
    UntilClose,
    Done,
}

/// The body of a response, as its framing delimits it: reading it gives the payload
/// bytes, and an error if the body is cut short or malformed.
pub struct Body<R> {
    reader: R,
    state: State,
}

impl<R: BufRead> Body<R> {
    fn new(reader: R, framing: Framing) -> Self {
        let state = match framing {
            Framing::Chunked => State::ChunkStart { after_chunk: false },
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Remaining(n),
            Framing::UntilClose => State::UntilClose,
        };
        Body { reader, state }
    }

    /// Reads the next chunk-size line (after the previous chunk's CRLF, if any) and
    /// moves into that chunk, or past the trailers to the end.
    fn next_chunk(&mut self, after_chunk: bool) -> io::Result<()> {
        if after_chunk && read_line(&mut self.reader)?.as_deref() != Some("") {
            return Err(invalid("a chunk longer than its size"));
        }
        let line = read_line(&mut self.reader)?
            .ok_or_else(|| invalid("the body ended before its last chunk"))?;
        self.state = match parse_chunk_size(&line)? {
            0 => {
                read_headers(&mut self.reader)?; // the trailers, ignored
                State::Done
            }
            size => State::InChunk(size),
        };
        Ok(())
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state {
                State::ChunkStart { after_chunk } => self.next_chunk(after_chunk)?,
                State::Done => return Ok(0),
                State::UntilClose => return self.reader.read(buf),
                State::InChunk(left) | State::Remaining(left) => {
                    if buf.is_empty() {
                        return Ok(0);
                    }
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.reader.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the response body ended early",
                        ));
                    }
                    let left = left - n as u64;
                    self.state = match (&self.state, left) {
                        (State::InChunk(_), 0) => State::ChunkStart { after_chunk: true },
                        (State::InChunk(_), _) => State::InChunk(left),
                        (_, 0) => State::Done,
                        _ => State::Remaining(left),
                    };
                    return Ok(n);
                }
            }
        }
    }
}

/// An error for a response that breaks the protocol.
fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body of `response`, read whole, or the first error.
    fn body_of(response: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        let mut response = read_response(response)?;
        let mut body = Vec::new();
        response.body.read_to_end(&mut body)?;
        Ok((response.status, body))
    }

    fn error_of(response: &[u8]) -> String {
        body_of(response).unwrap_err().to_string()
    }

    #[test]
    fn a_chunked_request_frames_each_write_and_ends_with_an_empty_chunk() {
        let mut out = Vec::new();
        write_chunked_request_head(&mut out, "POST", "/images/load", "application/x-tar").unwrap();
        let mut body = ChunkedWriter::new(out);
        body.write_all(b"hello, ").unwrap();
        body.write_all(b"").unwrap();
        body.write_all(&[b'x'; 26]).unwrap();
        let out = String::from_utf8(body.finish().unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /images/load HTTP/1.1\r\nHost: localhost\r\n"));
        assert!(head.contains("\r\nTransfer-Encoding: chunked\r\n"));
        assert_eq!(
            body,
            format!("7\r\nhello, \r\n1a\r\n{}\r\n0\r\n\r\n", "x".repeat(26))
        );
    }

    #[test]
    fn chunked_length_and_close_delimited_bodies_are_read() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        assert_eq!(body_of(chunked).unwrap(), (200, b"hello!".to_vec()));
        let sized = b"HTTP/1.1 500 Oops\nContent-Length: 3\n\nabcdef";
        assert_eq!(body_of(sized).unwrap(), (500, b"abc".to_vec()));
        let closed = b"HTTP/1.0 404 Not Found\r\n\r\nuntil the end";
        assert_eq!(body_of(closed).unwrap(), (404, b"until the end".to_vec()));
        let interim =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(body_of(interim).unwrap(), (204, Vec::new()));
    }

    #[test]
    fn hostile_or_broken_responses_are_refused_with_a_reason() {
        let huge_header = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(9000));
        let many_headers = format!("HTTP/1.1 200 OK\r\n{}\r\n", "X: y\r\n".repeat(101));
        let cases: [(&[u8], &str); 12] = [
            (b"", "the connection closed without a response"),
            (
                b"SSH-2.0-OpenSSH\r\n",
                "not an HTTP response: \"SSH-2.0-OpenSSH\"",
            ),
            (
                b"HTTP/1.1 2000 OK\r\n\r\n",
                "not an HTTP response: \"HTTP/1.1 2000 OK\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length",
                "the response ended in the middle of a line",
            ),
            (huge_header.as_bytes(), "a line longer than 8 KiB"),
            (many_headers.as_bytes(), "more than 100 header lines"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
                "a bad Content-Length: \"+5\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
                "two different Content-Length headers",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
                "a bad chunk size: \"ffffffffffffffffff\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
                "a bad chunk size: \"-1\"",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
                "a chunk longer than its size",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
                "the response body ended early",
            ),
        ];
        for (response, expected) in cases {
            assert_eq!(
                error_of(response),
                expected,
                "{:?}",
                String::from_utf8_lossy(response)
            );
        }
    }

    #[test]
    fn a_huge_chunk_size_only_limits_reading() {
        let response =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nabc";
        assert_eq!(error_of(response), "the response body ended early");
    }
}
