//! `tabibu`: parses the command line, reads the configuration, and hands over to
//! [`tabibu_server::cli`].
#![allow(clippy::print_stderr)]

use clap::Parser;
use std::process::ExitCode;
use tabibu_app::platform::Config;
use tabibu_server::cli::{Cli, Command};
use tabibu_server::telemetry;

/// Password hashing takes 19 MiB at a time by design; glibc's allocator kept that memory
/// after every sign-in, so the process grew by tens of megabytes with each few sign-ins.
/// mimalloc returns it to the system. Built with its `no_thp` feature: otherwise it asks
/// for transparent huge pages on its arenas, and each 2 MiB page it touches stays resident
/// (45 MB idle instead of 28 MB; docs/MEASUREMENTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stack for each runtime thread.
const RUNTIME_STACK_BYTES: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = match &cli.env_file {
        // Named on the command line: it must be there.
        Some(path) => dotenvy::from_path(path).map(|_| ()).map_err(|err| {
            if err.not_found() {
                format!("the settings file {} was not found", path.display())
            } else {
                format!(
                    "the settings file {} could not be read; check its syntax and permissions",
                    path.display()
                )
            }
        }),
        None => match dotenvy::dotenv() {
            Err(err) if !err.not_found() => {
                Err("the .env file could not be read; check its syntax".to_owned())
            }
            _ => Ok(()),
        },
    };
    // The parser's own message can quote a line of the file, which may hold a secret.
    if let Err(message) = loaded {
        eprintln!("tabibu: {message}");
        return ExitCode::from(2);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tabibu: {err}");
            return ExitCode::from(2);
        }
    };
    // Rendering a large page walks deeply nested view types; unoptimised builds need more than
    // the default 2 MiB of stack for that.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(RUNTIME_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tabibu: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let telemetry = telemetry::init(&config, runtime.handle());
    let code = runtime.block_on(tabibu_server::cli::run(
        cli.command.unwrap_or(Command::Serve),
        config,
    ));
    // Outside the runtime's threads, while they still run the last exports.
    telemetry.shutdown();
    code
}
