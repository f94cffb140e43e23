CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL DEFAULT 'tenant',
    status      TEXT NOT NULL DEFAULT 'active',
    settings    JSONB NOT NULL,
    logo        BYTEA,
    logo_type   TEXT NOT NULL DEFAULT '',
    policy_rev  INTEGER NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
--bun:split
CREATE TABLE tenant_hostnames (
    hostname    TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    portal      TEXT NOT NULL DEFAULT ''
);
--bun:split
CREATE TABLE tenant_modules (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    module_id   TEXT NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    rules       JSONB NOT NULL DEFAULT '{}',
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, module_id)
);
--bun:split
CREATE TABLE platform_secrets (
    name        TEXT PRIMARY KEY,
    value       BYTEA NOT NULL
);
--bun:split
CREATE TABLE users (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    name            TEXT NOT NULL,
    birth_date      TEXT NOT NULL DEFAULT '',
    locale          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    block_reason    TEXT NOT NULL DEFAULT '',
    profile         JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL,
    verified_at     TIMESTAMPTZ,
    last_login_at   TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, email)
);
--bun:split
CREATE TABLE sessions (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    token_hash      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    ip              TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);
--bun:split
CREATE UNIQUE INDEX sessions_token ON sessions (tenant_id, token_hash);
--bun:split
CREATE TABLE user_tokens (
    tenant_id       TEXT NOT NULL,
    token_hash      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
CREATE TABLE account_deletions (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    deleted_at      TIMESTAMPTZ NOT NULL,
    initiator       TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
);
--bun:split
CREATE TABLE casbin_rule (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    ptype       TEXT NOT NULL,
    v0          TEXT NOT NULL DEFAULT '',
    v1          TEXT NOT NULL DEFAULT '',
    v2          TEXT NOT NULL DEFAULT '',
    v3          TEXT NOT NULL DEFAULT '',
    v4          TEXT NOT NULL DEFAULT '',
    v5          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, ptype, v0, v1, v2, v3, v4, v5)
);
--bun:split
CREATE TABLE outbox (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    text_body   TEXT NOT NULL,
    html_body   TEXT NOT NULL DEFAULT '',
    template    TEXT NOT NULL,
    locale      TEXT NOT NULL,
    status      TEXT NOT NULL,
    file        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
--bun:split
CREATE TABLE rate_limits (
    tenant_id    TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, bucket, window_start)
);
