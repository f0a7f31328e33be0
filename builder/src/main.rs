//! The `stowage` executable: parse the command line, run, report an error once.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = stowage::cli::Cli::parse();
    match stowage::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`stowage stream conf | head`): it chose to stop.
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stowage: {err}");
            ExitCode::FAILURE
        }
    }
}
