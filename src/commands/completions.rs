//! `routevault completions SHELL`: the shell completion script for the whole command line,
//! generated from the same clap definitions the binary parses with, so it never drifts.

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "routevault", &mut script);
    routevault::output::write_stdout(&script)
        .context("writing the completion script to standard output")?;
    Ok(())
}
