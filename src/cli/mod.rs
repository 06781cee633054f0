//! Command-line arguments (clap) and the dispatch to each command.

mod audit;
mod check;
mod config;
mod digest;
mod generate;
mod keys;
mod ledger;
mod recover;
mod rules;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Exit code of a usage or I/O error.
pub const EXIT_ERROR: u8 = 2;

/// licgate: checks Microsoft 365 licence orders sent by mail against the procedure.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Judge mail files offline, as the daemon would, and show the reply.
    ///
    /// Exit status: 0 when every file is accepted, 1 when any is held for
    /// confirmation, rejected or ignored, 2 on a usage or I/O error.
    Check(check::CheckArgs),
    /// Validate or refresh the rules files.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Watch the shared mailbox: judge, answer, file and record every mail.
    ///
    /// Stops cleanly on SIGTERM or SIGINT (the mail in hand is finished);
    /// rules are reloaded when their files change or on SIGHUP. Logs go to
    /// standard error (LICGATE_LOG sets the level, e.g. `debug`).
    Run(run::ConfigArg),
    /// Show the daemon's health: last poll, outbox, today's decisions.
    ///
    /// Exit status 1 when something looks wrong (daemon stopped, mailbox not
    /// polled, a reply stuck in the outbox): usable from a monitoring check.
    Status(run::ConfigArg),
    /// Read and check the audit trail of the daemon's decisions.
    ///
    /// The running daemon answers them through its socket beside the store;
    /// when it is stopped, they read the store themselves.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Per client and licence: this month's net change, pending removals
    /// (effective on the 1st), what took effect when, cancellable removals.
    ///
    /// Answered by the running daemon, or read from the store when it is stopped.
    Ledger(ledger::LedgerArgs),
    /// Print or send purchasing's digest of accepted requests now.
    ///
    /// By default it holds what the next scheduled digest will hold; the
    /// daemon sends those at the times of [digest] in the config. Answered by
    /// the running daemon, or read from the store when it is stopped.
    Digest(digest::DigestArgs),
    /// After a restore: judge again the mails filed in licgate's folders
    /// that the store does not know, as of their reception time.
    ///
    /// Run with the daemon stopped (it needs the store and the IMAP server).
    /// Each decision goes to the audit trail marked as recovered, an
    /// accepted request back in the next digest; nothing is sent, since
    /// each sender was answered before the restore. Exit status 1 when a
    /// mail is judged otherwise than the folder it was filed in.
    Recover(run::ConfigArg),
    /// Check the daemon's configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the secret key that codes the confirmations of held requests.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Write the manual pages or the shell completions (for packaging).
    #[command(subcommand, hide = true)]
    Generate(generate::GenerateCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check the file as `run` would load it, report every problem at once
    /// (file, line, key), and print the effective configuration as TOML.
    ///
    /// Also checks the rules folder (as `rules check`), the store's folder
    /// (nothing is created) and the secrets. Exit status: 0 when `run` would
    /// start, 1 when it would not (warnings alone give 0), 2 when the file
    /// cannot be read.
    Check(config::CheckArgs),
}

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For a person.
    Text,
    /// One JSON object per line.
    Json,
}

/// The `--rules` option shared by the commands that read rules.
#[derive(Debug, clap::Args)]
struct RulesDir {
    /// Folder holding licences.toml, clients.toml, calendar.toml and upgrades.toml.
    #[arg(
        long = "rules",
        value_name = "DIR",
        env = "LICGATE_RULES",
        default_value = "rules"
    )]
    dir: PathBuf,
}

impl RulesDir {
    /// Loads the rules; a missing folder says how to name the right one.
    fn load(&self) -> anyhow::Result<licgate::Rules> {
        anyhow::ensure!(
            self.dir.is_dir(),
            "{}: no rules folder here; pass --rules DIR or set LICGATE_RULES to the folder \
             holding licences.toml, clients.toml, calendar.toml and upgrades.toml",
            self.dir.display()
        );
        Ok(licgate::Rules::load(&self.dir)?)
    }
}

impl Args {
    /// True for `licgate run`, the daemon.
    pub fn is_daemon(&self) -> bool {
        matches!(self.command, Command::Run(_))
    }
}

/// Runs the command; returns the exit code, or an error for exit code 2.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !matches!(args.command, Command::Run(_)) {
        // The daemon sets up its own logs. The other commands show only
        // what an operator must know of, such as a store migrated on open.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::WARN)
            .without_time()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match args.command {
        Command::Check(check) => check::run(check),
        Command::Rules(command) => rules::run(command),
        Command::Run(config) => run::run(config),
        Command::Status(config) => run::status(config),
        Command::Audit(command) => audit::run(command),
        Command::Ledger(args) => ledger::run(args),
        Command::Digest(args) => digest::run(args),
        Command::Recover(config) => recover::run(config),
        Command::Config(ConfigCommand::Check(args)) => config::run(args),
        Command::Keys(command) => keys::run(command),
        Command::Generate(command) => generate::run(command),
    }
}
