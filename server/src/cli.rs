//! The `tabibu` command line: the server and the operators' tools.
//!
//! Output here is meant for the operator's terminal, so it prints; it never prints a secret
//! (configuration is shown through `Config::summary`, which redacts them).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::startup::{self, StartupError};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tabibu_app::platform::{Config, Db};

#[derive(Debug, Parser)]
#[command(
    name = "tabibu",
    version,
    about = "Tabibu: medical triage and consultations"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Check the configuration (and that the database answers) without starting the server.
    CheckConfig,
}

/// Runs one command; the exit code is what the shell sees.
pub async fn run(command: Command, config: Config) -> ExitCode {
    let result = match command {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(config).await,
        Command::CheckConfig => check_config(config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(cause = %err, "tabibu stopped with an error");
            eprintln!("tabibu: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), StartupError> {
    let addr = config.site_addr;
    let drain = config.shutdown_timeout;
    let listener = startup::bind(addr).await?;
    let state = startup::build_state(config).await?;
    let db = state.db.clone();
    tracing::info!(%addr, database = ?db.kind(), "Tabibu is listening on http://{addr}");
    let result = startup::serve(
        listener,
        startup::router(state),
        startup::shutdown_signal(),
        drain,
    )
    .await;
    db.close().await;
    tracing::info!("stopped");
    result
}

async fn migrate(config: Config) -> Result<(), StartupError> {
    let db = Db::connect(&config.database_url, &config.database_url_redacted(), 1).await?;
    db.migrate().await?;
    println!("migrations applied to {}", config.database_url_redacted());
    db.close().await;
    Ok(())
}

async fn check_config(config: Config) -> Result<(), StartupError> {
    for (name, value) in config.summary() {
        println!("{name}={value}");
    }
    let db = Db::connect(&config.database_url, &config.database_url_redacted(), 1).await?;
    db.ping(std::time::Duration::from_secs(5)).await?;
    db.close().await;
    println!("configuration is valid and the database answers");
    Ok(())
}
