//! Notifications: creation, and the poll transaction (acks, setErrs, one page of the oldest OPEN ones).

use sqlx::Row as _;

use super::{dispatch, Storage, WriteBegin as _};

/// A notification to store, `OPEN`.
pub struct NewNotification<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub resource_id: &'a str,
    pub txn: &'a str,
    /// The `{eventTypeURN: info}` object, serialised.
    pub events_json: &'a str,
    pub now_ms: i64,
}

/// An `OPEN` notification read for delivery.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: String,
    pub resource_id: String,
    pub txn: String,
    pub events_json: String,
    pub created_at_ms: i64,
}

/// A negative acknowledgement.
#[derive(Debug, Clone)]
pub struct SetError {
    pub jti: String,
    pub err: String,
    pub description: String,
}

/// One poll of one client.
pub struct PollRequest<'a> {
    pub client_id: &'a str,
    pub acks: &'a [String],
    pub errors: &'a [SetError],
    /// Most notifications to return (0: none).
    pub limit: u32,
    pub now_ms: i64,
}

/// What the poll did and found.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// Oldest first.
    pub page: Vec<Notification>,
    pub more_available: bool,
    /// Notifications moved to ACK by this poll.
    pub acked: u64,
    /// Notifications moved to ERR by this poll.
    pub errored: u64,
    /// Acked jtis that are unknown or belong to another client (ignored).
    pub ignored_acks: Vec<String>,
    /// setErrs jtis that are unknown or belong to another client (ignored).
    pub ignored_errors: Vec<String>,
}

const ACK: &str = "UPDATE notifications SET status = 'ACK', updated_at = $1 \
     WHERE notification_id = $2 AND client_id = $3 AND status IN ('OPEN', 'ERR')";
const ERR: &str = "UPDATE notifications SET status = 'ERR', error_code = $1, error_description = $2, updated_at = $3 \
     WHERE notification_id = $4 AND client_id = $5 AND status = 'OPEN'";
const OWNED: &str =
    "SELECT COUNT(*) FROM notifications WHERE notification_id = $1 AND client_id = $2";
const PAGE: &str =
    "SELECT notification_id, resource_id, txn, events, created_at FROM notifications \
     WHERE client_id = $1 AND status = 'OPEN' ORDER BY seq LIMIT $2";
const COUNT_OPEN: &str =
    "SELECT COUNT(*) FROM notifications WHERE client_id = $1 AND status = 'OPEN'";

impl Storage {
    /// Stores one OPEN notification (one statement: all or nothing).
    pub async fn insert_notification(&self, n: &NewNotification<'_>) -> Result<(), sqlx::Error> {
        dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO notifications \
                 (notification_id, client_id, resource_id, txn, events, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $6)",
            )
            .bind(n.id)
            .bind(n.client_id)
            .bind(n.resource_id)
            .bind(n.txn)
            .bind(n.events_json)
            .bind(n.now_ms)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// Applies the acks and setErrs of one client and reads its next page, in one transaction. Only the
    /// caller's own notifications change; other jtis are reported back as ignored.
    pub async fn poll(&self, req: &PollRequest<'_>) -> Result<PollOutcome, sqlx::Error> {
        dispatch!(self, pool => {
            let mut out = PollOutcome::default();
            let mut tx = pool.begin_write(Some(req.client_id)).await?;
            for jti in req.acks {
                let done = sqlx::query(ACK)
                    .bind(req.now_ms)
                    .bind(jti)
                    .bind(req.client_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done == 0 {
                    let owned: i64 = sqlx::query_scalar(OWNED)
                        .bind(jti)
                        .bind(req.client_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if owned == 0 {
                        out.ignored_acks.push(jti.clone());
                    }
                }
                out.acked += done;
            }
            for e in req.errors {
                let done = sqlx::query(ERR)
                    .bind(&e.err)
                    .bind(&e.description)
                    .bind(req.now_ms)
                    .bind(&e.jti)
                    .bind(req.client_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done == 0 {
                    let owned: i64 = sqlx::query_scalar(OWNED)
                        .bind(&e.jti)
                        .bind(req.client_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if owned == 0 {
                        out.ignored_errors.push(e.jti.clone());
                    }
                }
                out.errored += done;
            }
            if req.limit > 0 {
                let rows = sqlx::query(PAGE)
                    .bind(req.client_id)
                    .bind(i64::from(req.limit))
                    .fetch_all(&mut *tx)
                    .await?;
                for row in rows {
                    out.page.push(Notification {
                        id: row.try_get("notification_id")?,
                        resource_id: row.try_get("resource_id")?,
                        txn: row.try_get("txn")?,
                        events_json: row.try_get("events")?,
                        created_at_ms: row.try_get("created_at")?,
                    });
                }
            }
            let open: i64 = sqlx::query_scalar(COUNT_OPEN)
                .bind(req.client_id)
                .fetch_one(&mut *tx)
                .await?;
            out.more_available = open > out.page.len() as i64;
            tx.commit().await?;
            Ok(out)
        })
    }
}
