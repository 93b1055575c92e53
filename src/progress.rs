//! Progress for long work: bars on a terminal, nothing otherwise (structured log lines report
//! the same milestones, so a CronJob's logs stay clean).

use std::io::IsTerminal;

use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

static TEXT_LOGS: OnceLock<bool> = OnceLock::new();

/// The one set of bars of this process, once any is shown; log lines are written around it.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Where log lines go: stderr, with the progress bars (if any are drawn) cleared while a line
/// is written and redrawn under it, so bars and log lines never interleave on a terminal.
#[derive(Clone, Copy, Default)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // tracing-subscriber writes each event whole, so a value is never split across calls.
        let text = String::from_utf8_lossy(buf);
        let line = crate::redact::redact(&text);
        match BARS.get() {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(line.as_bytes()))?,
            None => std::io::stderr().write_all(line.as_bytes())?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

/// Records whether logs are text (for people) or JSON (for machines); set once by the binary.
pub fn set_text_logs(text: bool) {
    let _ = TEXT_LOGS.set(text);
}

/// Progress display; inert when stderr is not a terminal.
#[derive(Clone, Default)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars only when stderr is a terminal and logs are meant for people.
    pub fn new() -> Self {
        let enabled = *TEXT_LOGS.get().unwrap_or(&false) && std::io::stderr().is_terminal();
        Self {
            multi: enabled.then(|| {
                BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
                    .clone()
            }),
        }
    }

    /// A counter with a label, e.g. objects listed of one kind.
    pub fn counter(&self, label: &str) -> ProgressBar {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:>24} {pos} {msg}")
                        .expect("a valid template"),
                );
                bar.set_prefix(label.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        }
    }

    /// A bar towards `total`, e.g. objects applied.
    pub fn bar(&self, label: &str, total: u64) -> ProgressBar {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12} [{bar:40}] {pos}/{len} {per_sec} {msg}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(label.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        }
    }
}
