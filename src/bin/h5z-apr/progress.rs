//! A minimal progress bar on stderr: appears only when the work has run for more than a
//! second and stderr is a terminal, and erases itself when done.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    total: u64,
    done: u64,
    start: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
    drawn: bool,
}

const WIDTH: usize = 30;

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Self {
        Progress {
            total: total.max(1),
            done: 0,
            start: Instant::now(),
            last_draw: None,
            enabled: !quiet && std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    /// Marks `n` more units done; `what` describes the current step.
    pub fn inc(&mut self, n: u64, what: &str) {
        self.done = (self.done + n).min(self.total);
        if !self.enabled || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        if let Some(t) = self.last_draw {
            if t.elapsed() < Duration::from_millis(100) && self.done < self.total {
                return;
            }
        }
        self.last_draw = Some(Instant::now());
        let filled = (self.done as usize * WIDTH) / self.total as usize;
        let mut line = format!(
            "\r[{}{}] {:3}% {:.0}s {what}",
            "#".repeat(filled),
            " ".repeat(WIDTH - filled),
            self.done * 100 / self.total,
            self.start.elapsed().as_secs_f64()
        );
        line.truncate(100);
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "{line}\x1b[K");
        let _ = e.flush();
        self.drawn = true;
    }

    /// Erases the bar.
    pub fn finish(&mut self) {
        if self.drawn {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
