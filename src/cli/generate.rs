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

/// What every manual page ends with: the files licgate reads and writes.
const FILES: &str = r#".SH FILES
.TP
\fI/etc/licgate/licgate.toml\fR
The configuration (another with \fB\-\-config\fR or \fBLICGATE_CONFIG\fR); every key is
listed and commented in the installed file. Check it with \fBlicgate config check\fR.
.TP
\fI/etc/licgate/rules/\fR
The rules: licences.toml, clients.toml, calendar.toml, upgrades.toml, tickets.toml
(\fBlicgate rules check\fR).
.TP
\fI/var/lib/licgate/store/\fR
The store: decisions, raw mails, audit trail, outbox; in it also \fIcommand\-keys\fR, the
secret of the confirmation codes (\fBlicgate keys rotate\fR); \fIlicgate.sock\fR, the
running daemon's socket.
.TP
\fI/usr/share/doc/licgate/deploy/README.md\fR
The runbook: install, first start, monitoring, backup and restore, upgrade.
.SH "SEE ALSO"
\fBlicgate\fR(1), \fBlicgate\-check\fR(1), \fBlicgate\-run\fR(1), \fBlicgate\-status\fR(1),
\fBlicgate\-config\-check\fR(1), \fBsystemd.exec\fR(5)
"#;

/// One page per visible command, each footed `licgate VERSION` (not the
/// subcommand's own name) and ending with [`FILES`].
fn man(dir: &Path) -> std::io::Result<()> {
    fn page(command: clap::Command, dir: &Path) -> std::io::Result<()> {
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            page(sub.clone(), dir)?;
        }
        let man = clap_mangen::Man::new(command)
            .source(format!("licgate {}", env!("CARGO_PKG_VERSION")))
            .manual("licgate");
        let mut text = Vec::new();
        man.render(&mut text)?;
        text.extend_from_slice(FILES.as_bytes());
        std::fs::write(dir.join(man.get_filename()), text)
    }
    let mut command = Args::command().disable_help_subcommand(true);
    command.build();
    page(command, dir)
}

fn completions(dir: &Path) -> std::io::Result<()> {
    let mut command = Args::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut command, "licgate", dir)?;
    }
    Ok(())
}
