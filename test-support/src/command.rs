//! Running commands, with failures that show the command line and its output.

use std::borrow::BorrowMut;
use std::ffi::OsStr;
use std::process::{Command, Output};

/// Shows a command the way a shell user would type it, for failure messages.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// A `Command` for `program` with `args`.
pub fn command<I, S>(program: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// Runs a command to completion and returns its output, whatever its exit status;
/// panics with the command line when it cannot start.
pub fn output(mut cmd: impl BorrowMut<Command>) -> Output {
    let cmd = cmd.borrow_mut();
    // `output()` gives the child an empty stdin unless the caller set one.
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)))
}

/// Runs a command to completion and returns its output; panics with the command line,
/// exit status, stdout and stderr when it cannot start or does not succeed.
pub fn run(mut cmd: impl BorrowMut<Command>) -> Output {
    let cmd = cmd.borrow_mut();
    let output = output(&mut *cmd);
    succeeded(cmd, output)
}

/// `output` of `cmd` if it succeeded; panics with the command line, exit status, stdout
/// and stderr if not.
pub fn succeeded(cmd: &Command, output: Output) -> Output {
    if !output.status.success() {
        panic!(
            "`{}` failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            describe(cmd),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// Runs a command that must succeed and returns its stdout as text.
pub fn run_stdout(cmd: impl BorrowMut<Command>) -> String {
    String::from_utf8(run(cmd).stdout).expect("command printed UTF-8")
}

/// Runs a command that must fail and returns its stderr; panics, with its output, if it
/// succeeds.
pub fn run_failing(mut cmd: impl BorrowMut<Command>) -> String {
    let cmd = cmd.borrow_mut();
    let output = output(&mut *cmd);
    if output.status.success() {
        panic!(
            "`{}` succeeded but was expected to fail\n--- stdout\n{}\n--- stderr\n{}",
            describe(cmd),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stderr).into_owned()
}
