//! Retention: OPEN notifications past their lifetime become EXPIRED; ACK, ERR and EXPIRED ones are deleted
//! after the retention time. Both work in small batches, each its own short statement, so requests are never
//! held up for long.

use super::{dispatch, Storage};

const BATCH: i64 = 500;

impl Storage {
    /// Marks up to one batch of OPEN notifications created before `cutoff_ms` as EXPIRED.
    pub async fn expire_open_batch(&self, cutoff_ms: i64, now_ms: i64) -> Result<u64, sqlx::Error> {
        dispatch!(self, pool => {
            sqlx::query(
                "UPDATE notifications SET status = 'EXPIRED', updated_at = $1 WHERE seq IN \
                 (SELECT seq FROM notifications WHERE status = 'OPEN' AND created_at < $2 ORDER BY seq LIMIT $3) \
                 AND status = 'OPEN'",
            )
            .bind(now_ms)
            .bind(cutoff_ms)
            .bind(BATCH)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
    }

    /// Deletes up to one batch of ACK / ERR / EXPIRED notifications last changed before `cutoff_ms`.
    pub async fn purge_batch(&self, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
        dispatch!(self, pool => {
            sqlx::query(
                "DELETE FROM notifications WHERE seq IN \
                 (SELECT seq FROM notifications WHERE status IN ('ACK', 'ERR', 'EXPIRED') AND updated_at < $1 \
                  ORDER BY seq LIMIT $2) \
                 AND status IN ('ACK', 'ERR', 'EXPIRED')",
            )
            .bind(cutoff_ms)
            .bind(BATCH)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
    }

    pub fn retention_batch_size() -> u64 {
        BATCH as u64
    }
}
