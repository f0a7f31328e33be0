//! The `stowage` executable: parse the command line, run, report an error once.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Called as `chown` or `chgrp` from fakeRootCommands: journal, don't change anything.
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let called_as = std::path::Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    if stowage::fakeroot::SHIMS.contains(&called_as) {
        return stowage::fakeroot::shim_main(called_as, &args.collect::<Vec<_>>());
    }
    let cli = stowage::cli::Cli::parse();
    match stowage::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`stowage stream conf | head`): it chose to stop.
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("stowage: {}", err.one_line());
            ExitCode::FAILURE
        }
    }
}
