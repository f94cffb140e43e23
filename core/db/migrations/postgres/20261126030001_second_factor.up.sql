-- A second factor for accounts (TOTP, passkeys, recovery codes) and the half-signed state
-- between the password and the second step. Every row goes with its account (ON DELETE
-- CASCADE): erasing an account removes its factors.

-- The account's TOTP secret (RFC 6238). confirmed is false while the person has not yet
-- typed a first code from it; last_step is the last 30-second step accepted, so that a code
-- is never accepted twice (guarded update: last_step < the step of the code).
CREATE TABLE user_totp (
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    secret       TEXT NOT NULL,
    confirmed    BOOLEAN NOT NULL DEFAULT FALSE,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
-- Passkeys (WebAuthn credentials) of an account; credential is the library's JSON.
CREATE TABLE user_passkeys (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    credential    TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
CREATE UNIQUE INDEX user_passkeys_credential ON user_passkeys (tenant_id, credential_id);
--bun:split
CREATE INDEX user_passkeys_user ON user_passkeys (tenant_id, user_id);
--bun:split
-- Recovery codes: only their SHA-256 is stored; used_at is set once (guarded update).
CREATE TABLE user_recovery_codes (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
-- The half-signed state: the password was accepted, the second step is not done yet. It
-- grants nothing (no session exists), is held by its own cookie (only its SHA-256 here),
-- expires within the tenant's rule and is deleted when the second step succeeds.
CREATE TABLE mfa_challenges (
    tenant_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    enrol       BOOLEAN NOT NULL DEFAULT FALSE,
    next        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
-- A passkey ceremony under way (registration or sign-in): the library's session data.
CREATE TABLE webauthn_ceremonies (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['user_totp','user_passkeys','user_recovery_codes','mfa_challenges','webauthn_ceremonies'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = current_setting(''app.tenant_id'', true)) WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t);
    END LOOP;
END $$;
