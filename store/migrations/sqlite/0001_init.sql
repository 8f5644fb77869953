-- ob-event-store schema (SQLite). Times are epoch milliseconds.
CREATE TABLE IF NOT EXISTS notifications (
    seq               INTEGER PRIMARY KEY,          -- delivery order: oldest first
    notification_id   TEXT    NOT NULL UNIQUE,      -- the SET's jti
    client_id         TEXT    NOT NULL,             -- the SET's aud
    resource_id       TEXT    NOT NULL,             -- the SET's sub
    txn               TEXT    NOT NULL,             -- stable across deliveries
    events            TEXT    NOT NULL,             -- JSON object {eventTypeURN: info}
    status            TEXT    NOT NULL CHECK (status IN ('OPEN', 'ACK', 'ERR', 'EXPIRED')),
    error_code        TEXT,
    error_description TEXT,
    created_at        INTEGER NOT NULL,             -- toe (seconds = created_at / 1000)
    updated_at        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_client_status ON notifications (client_id, status, seq);
CREATE INDEX IF NOT EXISTS notifications_status_updated ON notifications (status, updated_at);

CREATE TABLE IF NOT EXISTS subscriptions (
    subscription_id TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL UNIQUE,        -- one subscription per client
    callback_url    TEXT,
    version         TEXT    NOT NULL,
    event_types     TEXT,                           -- JSON array, NULL = not given
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
