//! The `tabibu` command line: the server and the operators' tools.
//!
//! Output here is meant for the operator's terminal, so it prints; it never prints a secret
//! (configuration is shown through `Config::summary`, which redacts them).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::startup::{self, StartupError};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tabibu_app::platform::{Config, Db, DbError};

#[derive(Debug, Parser)]
#[command(
    name = "tabibu",
    version,
    about = "Tabibu: medical triage and consultations"
)]
pub struct Cli {
    /// Read settings from this file instead of `./.env` (the environment still wins). For
    /// operators: `tabibu --env-file /etc/tabibu/tabibu.env backup DIR`.
    #[arg(long, global = true, value_name = "FILE")]
    pub env_file: Option<std::path::PathBuf>,
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
    /// Back up the database and the document files into a new folder, with a manifest of
    /// checksums and row counts. The server may keep running.
    Backup {
        /// The folder to create; it must not exist yet (or be empty).
        dir: std::path::PathBuf,
    },
    /// Restore a backup made by `tabibu backup`. Stop the server (every instance) first.
    Restore {
        /// The backup folder (the one holding `MANIFEST`).
        dir: std::path::PathBuf,
        /// Replace a database or documents folder that holds data; what is there is moved
        /// aside (SQLite file, documents folder) or dropped (PostgreSQL tables).
        #[arg(long)]
        force: bool,
        /// Restore although the configured data key is not the one the backup was made with
        /// (its documents and two-factor secrets will not open).
        #[arg(long)]
        allow_other_key: bool,
        /// Only check the backup against its manifest; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Seal every document and two-factor secret stored under the previous data key
    /// (`TABIBU_DATA_KEY_PREVIOUS`, `_ID`) again under the current one (`TABIBU_DATA_KEY`,
    /// `_ID`). The server may keep running (give it both keys too); safe to run again.
    RotateKey,
    /// Account administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Triage a text with the built-in engine and print the result.
    Triage {
        /// The text, as a patient or a clinician would write it.
        text: String,
        /// Age in years (else read from the text).
        #[arg(long)]
        age: Option<f32>,
        /// `female` or `male` (else read from the text).
        #[arg(long)]
        sex: Option<String>,
        /// The patient is pregnant.
        #[arg(long)]
        pregnant: bool,
        /// Print the whole result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the engine over a JSONL file of vignettes and report accuracy.
    TriageEval {
        /// Lines of `{"id": "...", "text": "...", "expected": "<level or coarse label>"}`.
        file: std::path::PathBuf,
        /// End with one JSON object (total, correct, accuracy, emergency_sensitivity, confusion).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user. The password is read from standard input when it is not a terminal;
    /// otherwise a one-time set-password link is printed (once).
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["patient", "doctor", "admin"])]
        role: String,
        /// The person's name (defaults to the part of the email before @).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole hash chain; exits non-zero at the first broken entry.
    Verify,
}

/// Runs one command; the exit code is what the shell sees.
pub async fn run(command: Command, config: Config) -> ExitCode {
    let result: Result<(), CliError> = match command {
        Command::Serve => serve(config).await.map_err(CliError::from),
        Command::Migrate => migrate(config).await.map_err(CliError::from),
        Command::CheckConfig => check_config(config).await.map_err(CliError::from),
        Command::Backup { dir } => backup(config, &dir).await,
        Command::Restore {
            dir,
            force,
            allow_other_key,
            check,
        } => {
            let options = crate::backup::RestoreOptions {
                force,
                allow_other_key,
                check_only: check,
            };
            restore(config, &dir, options).await
        }
        Command::Admin(AdminCommand::CreateUser { email, role, name }) => {
            create_user(config, &email, &role, name.as_deref()).await
        }
        Command::Audit(AuditCommand::Verify) => audit_verify(config).await,
        Command::RotateKey => rotate_key(config).await,
        Command::Triage {
            text,
            age,
            sex,
            pregnant,
            json,
        } => crate::triage_cli::triage(
            config.knowledge_dir.as_deref(),
            &text,
            age,
            sex.as_deref(),
            pregnant,
            json,
        )
        .map_err(CliError::from),
        Command::TriageEval { file, json } => {
            crate::triage_cli::triage_eval(config.knowledge_dir.as_deref(), &file, json)
                .map_err(CliError::from)
        }
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

/// Why a command failed; `Display` is the one line the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Triage(#[from] crate::triage_cli::TriageCliError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    #[error("{0}")]
    Refused(String),
}

impl From<DbError> for CliError {
    fn from(err: DbError) -> Self {
        CliError::Startup(err.into())
    }
}

async fn create_user(
    config: Config,
    email: &str,
    role: &str,
    name: Option<&str>,
) -> Result<(), CliError> {
    use std::io::{IsTerminal, Read};
    use tabibu_app::accounts::service::{self, Origin};
    use tabibu_app::accounts::types::Role;
    let role = Role::parse(role)
        .ok_or_else(|| CliError::Refused("--role takes patient, doctor or admin".into()))?;
    let name = name.map_or_else(
        || email.split('@').next().unwrap_or(email).to_owned(),
        str::to_owned,
    );
    let password = if std::io::stdin().is_terminal() {
        None
    } else {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).map_err(|e| {
            CliError::Refused(format!(
                "could not read the password from standard input: {e}"
            ))
        })?;
        let line = input.lines().next().unwrap_or_default().to_owned();
        (!line.is_empty()).then(|| secrecy::SecretString::from(line))
    };
    let state = startup::build_state(config).await?;
    let result = service::create_user(
        &state,
        None,
        email,
        &name,
        role,
        password.as_ref(),
        Origin::default(),
    )
    .await;
    state.db.close().await;
    match result {
        Ok((_, Some(link))) => {
            println!(
                "created a {} account; it can set its password once, within 72 hours, at:",
                role.as_str()
            );
            println!("{link}");
            Ok(())
        }
        Ok((_, None)) => {
            println!(
                "created a {} account with the password given",
                role.as_str()
            );
            Ok(())
        }
        Err(service::AccountError::Invalid(fields)) => Err(CliError::Refused(format!(
            "refused: {}",
            fields
                .iter()
                .map(|(f, k)| format!("{f}: {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Err(err) => Err(CliError::Refused(format!(
            "could not create the user: {err}"
        ))),
    }
}

async fn backup(config: Config, dir: &std::path::Path) -> Result<(), CliError> {
    let report = crate::backup::backup(&config, dir).await?;
    let manifest = &report.manifest;
    println!(
        "backup written to {}: {} database, {} tables, {} rows, {} document files",
        report.dir.display(),
        manifest.engine.label(),
        manifest.tables.len(),
        manifest.total_rows(),
        manifest.document_count()
    );
    if report.missing_files > 0 {
        println!(
            "note: {} document rows have no file in the backup (deleted while it ran)",
            report.missing_files
        );
    }
    println!(
        "the data key (id {}) is not in the backup: keep it safe apart from it",
        manifest.data_key_id
    );
    Ok(())
}

async fn restore(
    config: Config,
    dir: &std::path::Path,
    options: crate::backup::RestoreOptions,
) -> Result<(), CliError> {
    let report = crate::backup::restore(&config, dir, options).await?;
    let manifest = &report.manifest;
    if !report.restored {
        println!(
            "backup intact: {} database made {} by tabibu {}, {} tables, {} rows, {} document \
             files, every checksum matches",
            manifest.engine.label(),
            manifest.created_at,
            manifest.tabibu_version,
            manifest.tables.len(),
            manifest.total_rows(),
            manifest.document_count()
        );
        return Ok(());
    }
    println!(
        "restored the backup made {}: {} tables, {} rows and {} document files; every row \
         count matches the manifest",
        manifest.created_at,
        manifest.tables.len(),
        manifest.total_rows(),
        manifest.document_count()
    );
    for path in &report.moved_aside {
        println!("what was there before is kept at {}", path.display());
    }
    println!("next: `tabibu migrate`, then start the server");
    Ok(())
}

async fn rotate_key(config: Config) -> Result<(), CliError> {
    if config.data_key_previous.is_none() {
        return Err(CliError::Refused(
            "nothing to rotate from: set TABIBU_DATA_KEY and TABIBU_DATA_KEY_ID to the new key, \
             and TABIBU_DATA_KEY_PREVIOUS and TABIBU_DATA_KEY_PREVIOUS_ID to the old one"
                .into(),
        ));
    }
    let state = startup::build_state(config).await?;
    let documents = tabibu_app::documents::service::reseal_all(&state)
        .await
        .map_err(|e| CliError::Refused(format!("re-sealing documents stopped: {e}")))?;
    let secrets = tabibu_app::accounts::service::reseal_mfa_secrets(&state)
        .await
        .map_err(|e| CliError::Refused(format!("re-sealing two-factor secrets stopped: {e}")))?;
    let previous = state
        .previous_key
        .as_ref()
        .map(|k| k.id.clone())
        .unwrap_or_default();
    let left: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM documents WHERE key_id = $1")
            .bind(&previous)
            .fetch_one(state.db.pool())
            .await
            .map_err(|e| CliError::Refused(format!("could not count the documents left: {e}")))?;
    println!(
        "sealed again under key {}: {documents} documents, {secrets} two-factor secrets; \
         {left} documents left under key {previous}",
        state.data_key.id
    );
    if left == 0 {
        println!(
            "the previous key is no longer needed by documents: remove TABIBU_DATA_KEY_PREVIOUS \
             once every backup made before today has expired"
        );
        Ok(())
    } else {
        Err(CliError::Refused(format!(
            "{left} documents are still under key {previous}; run rotate-key again"
        )))
    }
}

async fn audit_verify(config: Config) -> Result<(), CliError> {
    let db = Db::connect(&config.database_url, &config.database_url_redacted(), 1).await?;
    db.migrate().await?;
    let report = tabibu_app::audit::verify(&db).await;
    db.close().await;
    let report =
        report.map_err(|e| CliError::Refused(format!("could not read the audit log: {e}")))?;
    match report.first_broken_seq {
        None => {
            println!(
                "audit log intact: {} entries, head #{} {}",
                report.entries, report.head_seq, report.head_hash
            );
            Ok(())
        }
        Some(seq) => Err(CliError::Refused(format!(
            "audit log BROKEN at entry #{seq} ({:?}); {} entries checked before it",
            report.problem, report.entries
        ))),
    }
}

async fn serve(config: Config) -> Result<(), StartupError> {
    let addr = config.site_addr;
    let drain = config.shutdown_timeout;
    let signal = startup::shutdown_signal();
    let listener = startup::bind(addr).await?;
    // The certificate is checked before anything else starts: a bad one stops the start.
    let certificates = match &config.tls {
        Some(files) => Some(crate::tls::CertStore::open(&files.cert, &files.key)?),
        None => None,
    };
    let redirect = match config.http_redirect_addr {
        Some(redirect_addr) => Some((
            startup::bind(redirect_addr).await?,
            crate::tls::RedirectSettings {
                https_base: config.public_url.clone(),
                acme_dir: config.acme_dir.clone(),
            },
        )),
        None => None,
    };
    let tls_reload = config.tls_reload;
    let state = startup::build_state(config).await?;
    let db = state.db.clone();
    let mailer = state.mailer.clone();
    let worker = crate::jobs::spawn_outbox_worker(
        db.clone(),
        mailer.clone(),
        crate::jobs::OutboxWorker::default(),
    );
    let pruner = crate::jobs::spawn_event_pruner(state.events.clone());
    let reconciler = crate::jobs::spawn_payment_reconciler(state.clone());
    let events = state.events.clone();
    let shutdown = async move {
        signal.await;
        events.close_streams();
    };
    let (closing, closed) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = closing.send(true);
    };
    let redirector = redirect.map(|(plain, settings)| {
        let mut closed = closed.clone();
        tracing::info!(addr = %plain.local_addr().map(|a| a.to_string()).unwrap_or_default(), "redirecting plain HTTP to HTTPS");
        tokio::spawn(async move {
            let stop = async move {
                let _ = closed.wait_for(|c| *c).await;
            };
            if let Err(err) =
                startup::serve(plain, crate::tls::redirect_router(settings), stop, drain).await
            {
                tracing::error!(cause = %err, "the plain-HTTP redirect listener stopped");
            }
        })
    });
    let app = startup::router(state);
    let result = match certificates {
        Some(store) => {
            tracing::info!(%addr, database = ?db.kind(), email = mailer.provider_name(), "Tabibu is listening on https://{addr}");
            let watcher = store.clone().watch(tls_reload);
            let tls = crate::tls::TlsListener::new(listener, store.server_config()?)
                .map_err(StartupError::Serve)?;
            let app = app.layer(axum::Extension(crate::tls::ServedOverTls));
            let served = startup::serve(
                axum::serve::ListenerExt::tap_io(tls, |_| {}),
                app,
                shutdown,
                drain,
            )
            .await;
            watcher.abort();
            served
        }
        None => {
            tracing::info!(%addr, database = ?db.kind(), email = mailer.provider_name(), "Tabibu is listening on http://{addr}");
            startup::serve(listener, app, shutdown, drain).await
        }
    };
    if let Some(redirector) = redirector {
        let _ = redirector.await;
    }
    crate::jobs::stop_outbox_worker(&mailer, worker).await;
    pruner.abort();
    reconciler.abort();
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
    let store = tabibu_app::documents::storage::Store::from_config(&config)
        .map_err(StartupError::Documents)?;
    if let tabibu_app::documents::storage::Store::S3(s3) = &store {
        // One listing request: the endpoint answers, the credentials and the bucket are good.
        s3.holds_objects().await.map_err(StartupError::Documents)?;
        println!("configuration is valid, the database answers and the bucket can be listed");
    } else {
        println!("configuration is valid and the database answers");
    }
    Ok(())
}
