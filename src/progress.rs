//! Progress for long work: bars on a terminal, nothing otherwise (structured log lines report
//! the same milestones, so a CronJob's logs stay clean).

use std::io::IsTerminal;

use std::sync::OnceLock;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

static TEXT_LOGS: OnceLock<bool> = OnceLock::new();

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
            multi: enabled.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
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
