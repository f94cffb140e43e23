-- B2, B3: the messages the secretariat took for a client, sent by the telephony platform;
-- the platform's id is the key, so the same message is stored (and forwarded) once. They are
-- kept billing.recording_retention_months (B2), then deleted by the daily retention job.
CREATE TABLE billing_messages (
    tenant_id       TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    taken_at        TIMESTAMPTZ NOT NULL,
    caller_name     TEXT NOT NULL DEFAULT '',
    caller_phone    TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    urgent          BOOLEAN NOT NULL DEFAULT FALSE,
    forwarded_at    TIMESTAMPTZ NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
-- a client's messages, newest first
CREATE INDEX billing_messages_sub ON billing_messages (tenant_id, subscription_id, taken_at);
-- the retention job's sweep
CREATE INDEX billing_messages_taken ON billing_messages (tenant_id, taken_at);

-- B2: the retention job clears the recording references of usage rows older than the
-- retention (the rows stay: they are invoice evidence); this finds the ones left to clear.
CREATE INDEX billing_usage_recordings ON billing_usage (tenant_id, occurred_at) WHERE recording_ref <> '';
