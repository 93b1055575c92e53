//! The `routevault` binary: parse the command line, set up logging, run the command, and map
//! errors to exit codes (0 ok, 1 error, 2 usage, 3 verification failed; `diff`: 1 differences,
//! 4 error).

/// `println!` for command output: a reader that has gone away (`| head`) ends the process
/// quietly, and no failed write panics (`routevault::output::print_line`).
macro_rules! outln {
    () => {
        routevault::output::print_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        routevault::output::print_line(format_args!($($arg)*))
    };
}

/// `print!` for command output, as [`outln!`] without the newline.
macro_rules! out {
    ($($arg:tt)*) => {
        routevault::output::print_text(format_args!($($arg)*))
    };
}

mod cli;
mod commands;

/// A snapshot allocates and frees a small map or string for nearly every field of every
/// object; glibc's allocator spent a fifth of its CPU doing so (consolidating and unlinking
/// free chunks), mimalloc a fraction of that (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use cli::{Cli, LogFormat};
use routevault::error::{DifferencesFound, EXIT_OK, EXIT_USAGE, diff_exit_code_for, exit_code_for};
use tracing_subscriber::EnvFilter;

fn main() {
    // SIGPIPE stays ignored (Rust's default): a closed connection is an error the command
    // reports. Command output goes through `outln!`, which ends quietly when stdout's reader
    // has gone away (`| head`), as a Unix filter does.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // Before the runtime starts any thread: plaintext in flight is removed on SIGINT/SIGTERM.
    routevault::cleanup::install();
    init_logging(cli.log_format, &cli.log_level);
    // kube and the AWS SDK share rustls; name its crypto provider once, before any TLS use.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    // Every command but restore is one task whose concurrency (kinds listed at once, Secrets
    // from several namespaces, downloads) is futures within it, and whose CPU work is one
    // pipeline on one thread (zstd compresses on threads of its own). On a multi-threaded
    // runtime each response chunk woke that thread from a worker: a sixth of a snapshot's CPU
    // went to the kernel's scheduling (docs/performance.md). Restore needs worker threads:
    // it reads the artifact on a thread of its own and applies on the runtime
    // (`block_in_place`).
    let mut builder = if matches!(cli.command, cli::Command::Restore(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let json_logs = cli.log_format == LogFormat::Json;
    let is_diff = matches!(cli.command, cli::Command::Diff(_));
    if is_diff {
        routevault::output::set_write_error_exit_code(routevault::error::EXIT_DIFF_ERROR);
    }
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::exit(EXIT_OK),
        // The report has been printed; differences are its answer, not an error to repeat.
        Err(err) if is_diff && err.is::<DifferencesFound>() => {
            std::process::exit(diff_exit_code_for(&err))
        }
        Err(err) => {
            let code = if is_diff {
                diff_exit_code_for(&err)
            } else {
                exit_code_for(&err)
            };
            if json_logs {
                tracing::error!(
                    exit_code = code,
                    error = format!("{err:#}"),
                    "command failed"
                );
            } else {
                eprintln!("error: {err:#}");
            }
            std::process::exit(code);
        }
    }
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: escape codes in a CI log or a file are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(routevault::progress::LogWriter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.without_time().with_target(false).init(),
    }
}
