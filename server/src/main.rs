//! The `attest` binary: web server and command line in one.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
