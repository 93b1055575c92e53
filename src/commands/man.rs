//! `routevault man`: man pages generated from the clap definitions (options, environment
//! variables, defaults), so the manual always matches the binary it ships with.

use std::fs;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};

pub fn run(args: ManArgs) -> anyhow::Result<()> {
    let command = Cli::command();
    match args.out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .context("rendering the man page")?;
            routevault::output::write_stdout(&page)
                .context("writing the man page to standard output")?;
        }
        Some(dir) => {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            outln!("{}", dir.display());
        }
    }
    Ok(())
}
