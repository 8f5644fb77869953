//! The background retention sweep: expire old OPEN notifications, purge old ACK / ERR / EXPIRED ones.
//!
//! It runs on its own task every `retention.sweep_interval_secs`, in batches of short statements, so requests
//! never wait for it for long. With several store instances each sweeps; the statements are idempotent.

use std::time::Duration;

use tokio::sync::watch;

use crate::config::RetentionConfig;
use crate::storage::{now_ms, Storage};

/// Runs until `shutdown` turns true.
pub async fn run(storage: Storage, config: RetentionConfig, mut shutdown: watch::Receiver<bool>) {
    if config.acknowledged_ttl_secs == 0 && config.open_ttl_secs == 0 {
        tracing::info!("retention disabled");
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(config.sweep_interval_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        sweep(&storage, config, &shutdown).await;
    }
}

/// One pass of both rules.
pub async fn sweep(storage: &Storage, config: RetentionConfig, shutdown: &watch::Receiver<bool>) {
    let batch = Storage::retention_batch_size();
    if config.open_ttl_secs > 0 {
        let mut total = 0;
        loop {
            let now = now_ms();
            let cutoff = now.saturating_sub(secs_to_ms(config.open_ttl_secs));
            match storage.expire_open_batch(cutoff, now).await {
                Ok(n) => {
                    total += n;
                    if n < batch || *shutdown.borrow() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention: expiring OPEN notifications failed");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        if total > 0 {
            tracing::info!(
                expired = total,
                "retention: OPEN notifications past their lifetime expired"
            );
        }
    }
    if config.acknowledged_ttl_secs > 0 {
        let mut total = 0;
        loop {
            let cutoff = now_ms().saturating_sub(secs_to_ms(config.acknowledged_ttl_secs));
            match storage.purge_batch(cutoff).await {
                Ok(n) => {
                    total += n;
                    if n < batch || *shutdown.borrow() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention: purging notifications failed");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        if total > 0 {
            tracing::info!(
                purged = total,
                "retention: acknowledged, errored and expired notifications purged"
            );
        }
    }
}

fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
}
