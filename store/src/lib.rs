//! `ob-event-store`: the storage backend of the OB Event Gateway.
//!
//! It speaks the wire contract of WSO2's event-notification back end (`/create-events`, `/events`,
//! `/subscription`), keeps notifications per client on SQLite or PostgreSQL, signs them as SETs and publishes
//! its JWKS. See `docs/store.md`.

pub mod app;
pub mod auth;
pub mod config;
pub mod errors;
pub mod notifications;
pub mod polling;
pub mod request;
pub mod retention;
pub mod sets;
pub mod storage;
pub mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::sets::SetSigner;
use crate::storage::Storage;

/// Reads the signing key named by the configuration and checks it fits the algorithm.
pub fn load_signer(config: &Config) -> Result<SetSigner, String> {
    let pem = std::fs::read_to_string(&config.sets.signing_key_file).map_err(|e| {
        format!(
            "cannot read sets.signing_key_file {}: {e}",
            config.sets.signing_key_file.display()
        )
    })?;
    SetSigner::from_pem(
        &pem,
        config.sets.algorithm,
        config.sets.key_id.clone(),
        config.sets.issuer.clone(),
    )
}

/// Runs the store until SIGTERM/SIGINT, then finishes in-flight requests and returns.
pub async fn run(config: Config) -> Result<(), String> {
    let signer = load_signer(&config)?;
    let storage = Storage::connect(&config.database_url, config.database_max_connections).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    tracing::info!(
        address = %address,
        database = storage.kind(),
        base_path = %config.base_path,
        algorithm = signer.algorithm().as_str(),
        kid = signer.key_id(),
        "ob-event-store listening on {address} with {} storage",
        storage.kind()
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let retention = tokio::spawn(retention::run(
        storage.clone(),
        config.retention,
        stop_rx.clone(),
    ));

    let shutdown_timeout = Duration::from_secs(config.shutdown_timeout_secs);
    let state = app::AppState::new(config, storage.clone(), signer, stop_rx.clone());
    let router = app::router(state);

    let signalled = Arc::new(Notify::new());
    let notify = signalled.clone();
    let stop = stop_tx.clone();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        // Ends long polls and the retention sweep now, so in-flight requests finish quickly.
        let _ = stop.send(true);
        notify.notify_one();
    });
    let forced = async {
        signalled.notified().await;
        tokio::time::sleep(shutdown_timeout).await;
    };
    tokio::select! {
        result = server => result.map_err(|e| format!("server error: {e}"))?,
        _ = forced => tracing::warn!("in-flight requests did not finish within shutdown_timeout_secs; exiting"),
    }
    let _ = stop_tx.send(true);
    let _ = retention.await;
    storage.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
