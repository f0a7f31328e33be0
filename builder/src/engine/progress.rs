//! Progress of a transfer on stderr, when stderr is a terminal: bytes done of the total,
//! redrawn in place a few times a second. Elsewhere (a log, a pipe, a Nix build) it
//! prints nothing.

use std::io::{self, IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// How often the line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(200);

/// A count of bytes done of `total`, shown as `sending: 12.3 of 45.6 MB (27%)`.
pub struct Progress {
    total: u64,
    done: u64,
    /// When the line was last drawn; `None` when nothing is shown.
    drawn: Option<Instant>,
}

impl Progress {
    /// A progress line for `total` bytes, shown only if stderr is a terminal.
    pub fn on_terminal(total: u64) -> Self {
        let shown = io::stderr().is_terminal();
        Progress {
            total,
            done: 0,
            // As if drawn a while ago, so the first bytes draw it.
            drawn: shown.then(|| {
                let now = Instant::now();
                now.checked_sub(REDRAW).unwrap_or(now)
            }),
        }
    }

    /// Counts `n` more bytes done.
    fn advance(&mut self, n: usize) {
        self.done += n as u64;
        if self.drawn.is_some_and(|at| at.elapsed() >= REDRAW) {
            self.draw();
        }
    }

    /// Draws the final count and ends the line, if anything was shown.
    pub fn finish(mut self) {
        self.draw();
        if self.drawn.is_some() {
            eprintln!();
        }
    }

    /// Draws the line over the last one.
    fn draw(&mut self) {
        if self.drawn.is_none() {
            return;
        }
        let mb = |bytes: u64| bytes as f64 / 1e6;
        let percent = (self.done * 100)
            .checked_div(self.total)
            .unwrap_or(100)
            .min(100);
        // Progress is a courtesy: a stderr that cannot be written to is no reason to stop.
        let _ = write!(
            io::stderr(),
            "\rsending: {:.1} of {:.1} MB ({percent}%)",
            mb(self.done),
            mb(self.total)
        );
        self.drawn = Some(Instant::now());
    }
}

/// A reader or writer whose bytes count towards a [`Progress`].
pub struct Counted<'a, T> {
    pub inner: T,
    pub progress: &'a mut Progress,
}

impl<T: Write> Write for Counted<'_, T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.progress.advance(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Read> Read for Counted<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n);
        Ok(n)
    }
}
