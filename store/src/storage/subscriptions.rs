//! Subscriptions: at most one per client (a UNIQUE constraint, so it holds across store instances too), and
//! every read or write is scoped to the calling client.

use sqlx::Row as _;

use super::{dispatch, Storage};

/// A stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub client_id: String,
    pub callback_url: Option<String>,
    pub version: String,
    /// `None`: the request did not list event types.
    pub event_types: Option<Vec<String>>,
}

/// Result of a create.
#[derive(Debug)]
pub enum CreateOutcome {
    Created,
    /// The client already has a subscription.
    Conflict,
}

const COLUMNS: &str = "subscription_id, client_id, callback_url, version, event_types";

fn types_json(types: &Option<Vec<String>>) -> Option<String> {
    types
        .as_ref()
        .map(|t| serde_json::Value::from(t.clone()).to_string())
}

macro_rules! from_row {
    ($row:expr) => {{
        let row = $row;
        let types: Option<String> = row.try_get("event_types")?;
        Subscription {
            id: row.try_get("subscription_id")?,
            client_id: row.try_get("client_id")?,
            callback_url: row.try_get("callback_url")?,
            version: row.try_get("version")?,
            event_types: types.and_then(|t| serde_json::from_str(&t).ok()),
        }
    }};
}

impl Storage {
    pub async fn create_subscription(
        &self,
        s: &Subscription,
        now_ms: i64,
    ) -> Result<CreateOutcome, sqlx::Error> {
        let types = types_json(&s.event_types);
        let result = dispatch!(self, pool => {
            sqlx::query(
                "INSERT INTO subscriptions \
                 (subscription_id, client_id, callback_url, version, event_types, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&s.id)
            .bind(&s.client_id)
            .bind(&s.callback_url)
            .bind(&s.version)
            .bind(&types)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|_| ())
        });
        match result {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(CreateOutcome::Conflict),
            Err(e) => Err(e),
        }
    }

    /// The subscription `id` if it belongs to `client_id`.
    pub async fn get_subscription(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<Option<Subscription>, sqlx::Error> {
        dispatch!(self, pool => {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM subscriptions WHERE subscription_id = $1 AND client_id = $2"
            ))
            .bind(id)
            .bind(client_id)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(row) => Ok(Some(from_row!(row))),
                None => Ok(None),
            }
        })
    }

    /// The client's subscriptions (zero or one).
    pub async fn list_subscriptions(
        &self,
        client_id: &str,
    ) -> Result<Vec<Subscription>, sqlx::Error> {
        dispatch!(self, pool => {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM subscriptions WHERE client_id = $1 ORDER BY created_at"
            ))
            .bind(client_id)
            .fetch_all(pool)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(from_row!(row));
            }
            Ok(out)
        })
    }

    /// Replaces callback URL, version and event types; `false` when there is no such subscription of the client.
    pub async fn update_subscription(
        &self,
        s: &Subscription,
        now_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let types = types_json(&s.event_types);
        dispatch!(self, pool => {
            sqlx::query(
                "UPDATE subscriptions SET callback_url = $1, version = $2, event_types = $3, updated_at = $4 \
                 WHERE subscription_id = $5 AND client_id = $6",
            )
            .bind(&s.callback_url)
            .bind(&s.version)
            .bind(&types)
            .bind(now_ms)
            .bind(&s.id)
            .bind(&s.client_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0)
        })
    }

    /// Deletes; `false` when there is no such subscription of the client.
    pub async fn delete_subscription(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<bool, sqlx::Error> {
        dispatch!(self, pool => {
            sqlx::query("DELETE FROM subscriptions WHERE subscription_id = $1 AND client_id = $2")
                .bind(id)
                .bind(client_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() > 0)
        })
    }
}
