//! `licgate generate man|completions DIR` (hidden): the manual pages and the
//! shell completions, generated from the clap definitions so that they never
//! drift from `--help`. `scripts/package` runs it before `cargo deb`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;

use super::Args;

#[derive(Debug, clap::Subcommand)]
pub enum GenerateCommand {
    /// One manual page per command (licgate.1, licgate-check.1, ...).
    Man {
        /// Folder written into (created if missing).
        dir: PathBuf,
    },
    /// Completions for bash (licgate.bash), zsh (_licgate) and fish (licgate.fish).
    Completions {
        /// Folder written into (created if missing).
        dir: PathBuf,
    },
}

pub fn run(command: GenerateCommand) -> anyhow::Result<ExitCode> {
    let (write, dir): (fn(&Path) -> std::io::Result<()>, _) = match command {
        GenerateCommand::Man { dir } => (man, dir),
        GenerateCommand::Completions { dir } => (completions, dir),
    };
    std::fs::create_dir_all(&dir)
        .and_then(|()| write(&dir))
        .with_context(|| format!("{}: cannot write", dir.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn man(dir: &Path) -> std::io::Result<()> {
    clap_mangen::generate_to(Args::command(), dir)
}

fn completions(dir: &Path) -> std::io::Result<()> {
    let mut command = Args::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command, "licgate", dir)?;
    }
    Ok(())
}
