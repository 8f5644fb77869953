//! The `ob-event-store` binary: `ob-event-store --config store.toml`, or `ob-event-store generate-key`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ob_event_store::config::{self, LogFormat};
use ob_event_store::sets::{self, Algorithm};

/// WSO2-compatible event-notification back end of the OB Event Gateway: stores event notifications per client
/// on SQLite or PostgreSQL, serves aggregated polling with signed SETs, and event subscriptions.
#[derive(Parser)]
#[command(name = "ob-event-store", version, after_help = config::help_table())]
struct Cli {
    /// TOML configuration file. Optional: every key can come from its environment variable instead.
    #[arg(
        long,
        short,
        global = true,
        env = "OB_STORE_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Write a new SET-signing private key (PKCS#8 PEM, mode 0600) and exit.
    GenerateKey {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// PS256 / RS256 (an RSA key) or ES256 (a P-256 key).
        #[arg(long, default_value = "PS256")]
        algorithm: String,
        /// RSA modulus size.
        #[arg(long, default_value_t = 2048)]
        bits: usize,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Load and check the configuration and the signing key, print the result and exit.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::GenerateKey {
            out,
            algorithm,
            bits,
            force,
        }) => generate_key(&out, &algorithm, bits, force),
        Some(Command::CheckConfig) => {
            match load(&cli).and_then(|c| ob_event_store::load_signer(&c).map(|s| (c, s))) {
                Ok((c, signer)) => {
                    println!(
                        "configuration OK: listen {} base_path {:?} database {} algorithm {} kid {}",
                        c.listen,
                        c.base_path,
                        db_kind(&c.database_url),
                        signer.algorithm().as_str(),
                        signer.key_id()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        None => serve(&cli),
    }
}

fn load(cli: &Cli) -> Result<config::Config, String> {
    config::load(cli.config.as_deref(), |name| std::env::var(name).ok())
}

fn db_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("ob-event-store: {message}");
    ExitCode::from(2)
}

fn serve(cli: &Cli) -> ExitCode {
    let config = match load(cli) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    init_logging(config.log_format, &config.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    match runtime.block_on(ob_event_store::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "ob-event-store failed");
            fail(&e)
        }
    }
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.with_ansi(false).init(),
    }
}

fn generate_key(out: &std::path::Path, algorithm: &str, bits: usize, force: bool) -> ExitCode {
    let algorithm = match algorithm {
        "PS256" => Algorithm::Ps256,
        "RS256" => Algorithm::Rs256,
        "ES256" => Algorithm::Es256,
        other => {
            return fail(&format!(
                "--algorithm must be PS256, RS256 or ES256, got {other:?}"
            ))
        }
    };
    if out.exists() && !force {
        return fail(&format!(
            "{} exists (use --force to overwrite)",
            out.display()
        ));
    }
    let pem = match sets::generate_key_pem(algorithm, bits) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(parent) {
            return fail(&format!("cannot create {}: {e}", parent.display()));
        }
    }
    if let Err(e) = write_private(out, pem.as_bytes()) {
        return fail(&format!("cannot write {}: {e}", out.display()));
    }
    println!(
        "wrote {} ({} signing key)",
        out.display(),
        algorithm.as_str()
    );
    ExitCode::SUCCESS
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
