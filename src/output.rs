//! How commands show results: aligned tables for people, JSON and YAML for pipelines. Results
//! go to stdout; logs go to stderr, so `-o json | jq` always works.

use std::io::Write;

use serde::Serialize;

/// Renders rows as a table with aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Text from an unverified source (a store listing, a signature file not yet checked), made
/// safe for a terminal and a log line: control characters (escape sequences, carriage
/// returns, C1 controls) and bidirectional overrides are shown as `\u{..}` escapes, so such
/// text can neither recolour nor rewrite what the operator sees. Newlines and tabs are kept.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Prints a value as pretty JSON on stdout, as it is serialised (a restore's report can list
/// every object).
pub fn print_json(value: &impl Serialize) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut stdout, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(stdout))
        .and_then(|()| stdout.flush());
    quiet_on_closed_stdout(written)
}

/// Prints a value as one YAML document on stdout, quoted so YAML 1.1 readers agree.
pub fn print_yaml(value: &impl Serialize) -> std::io::Result<()> {
    let value = serde_json::to_value(value).map_err(std::io::Error::other)?;
    write_stdout(crate::yaml::to_string(&value).as_bytes())
}

/// Writes command output to stdout. A reader that has gone away (`routevault list | head`)
/// ends the process quietly with 141 (128 + SIGPIPE, what a shell reports for a process
/// SIGPIPE ended), after removing files in flight. SIGPIPE itself stays ignored, as Rust
/// leaves it: with its default action, a server closing a connection during a vectored write
/// (hyper's request bodies) killed the process without a word, cleanup or exit code.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    quiet_on_closed_stdout(stdout.write_all(bytes).and_then(|()| stdout.flush()))
}

/// The end of a write to stdout: a closed reader ends the process ([`write_stdout`]); any
/// other outcome is returned.
fn quiet_on_closed_stdout(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            crate::cleanup::exit_now(128 + libc::SIGPIPE)
        }
        other => other,
    }
}

/// One line of command output (the binary's `outln!`): [`write_stdout`], and any other
/// failure to write (a full disk under a redirect) ends the command with an error, not a
/// panic.
pub fn print_line(args: std::fmt::Arguments) {
    let mut line = args.to_string();
    line.push('\n');
    print_bytes(line.as_bytes());
}

/// Command output without a newline added (the binary's `out!`), as [`print_line`].
pub fn print_text(args: std::fmt::Arguments) {
    print_bytes(args.to_string().as_bytes());
}

fn print_bytes(bytes: &[u8]) {
    if let Err(e) = write_stdout(bytes) {
        eprintln!("error: writing to standard output: {e}");
        crate::cleanup::exit_now(WRITE_ERROR_EXIT.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// The exit code of a failed write of command output: an error's, which `diff` makes its own
/// (its 1 means "differences").
static WRITE_ERROR_EXIT: std::sync::atomic::AtomicI32 =
    std::sync::atomic::AtomicI32::new(crate::error::EXIT_ERROR);

/// Sets the exit code a failed write of command output ends the process with.
pub fn set_write_error_exit_code(code: i32) {
    WRITE_ERROR_EXIT.store(code, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_neutralises_terminal_controls_only() {
        assert_eq!(super::escape("plain id 20261126"), "plain id 20261126");
        assert_eq!(
            super::escape("\u{1b}[32mOK\u{1b}[0m\r"),
            "\\u{1b}[32mOK\\u{1b}[0m\\u{d}"
        );
        assert_eq!(super::escape("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(super::escape("line\nnext\tcol"), "line\nnext\tcol");
        assert_eq!(super::escape("ünïcode ok"), "ünïcode ok");
    }

    #[test]
    fn tables_align_columns() {
        let t = super::table(
            &["ID", "SIZE"],
            &[
                vec!["a".into(), "10".into()],
                vec!["bbbb".into(), "2".into()],
            ],
        );
        assert_eq!(t, "ID    SIZE\na     10\nbbbb  2\n");
    }
}
