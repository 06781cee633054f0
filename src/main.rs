//! The `licgate` command: parses the arguments and hands over to `cli`.
//! Exit codes: 0 all accepted, 1 something rejected or ignored, 2 usage or I/O error.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("licgate: {err:#}");
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
