use std::ffi::OsString;
use std::process::ExitCode;

pub fn run(_args: impl IntoIterator<Item = OsString>) -> ExitCode {
    ExitCode::SUCCESS
}
