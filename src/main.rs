fn main() -> std::process::ExitCode {
    swarmform::run(std::env::args_os())
}
