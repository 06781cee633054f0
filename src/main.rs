//! The `licgate` command: parses the arguments and hands over to `cli`.
//! Exit codes: 0 all accepted, 1 something rejected or ignored, 2 usage or I/O error.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // NOTE: Rust ignores SIGPIPE, so a print to a closed pipe (`licgate
    // audit list | head`, `licgate --help | head -1`) would panic; the
    // default action ends the process quietly, as for any Unix tool. The
    // daemon ignores it again: a peer closing a socket is an error it handles.
    // SAFETY: sets the disposition of one signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Args::parse();
    if args.is_daemon() {
        // SAFETY: as above.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!(
                "licgate: {}",
                licgate::text::typography(&format!("{err:#}"))
            );
            ExitCode::from(cli::EXIT_ERROR)
        }
    }
}
