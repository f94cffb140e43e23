CREATE TABLE terms_versions (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    doc          TEXT NOT NULL,
    version      INTEGER NOT NULL,
    published_at TIMESTAMP NOT NULL,
    effective_at TIMESTAMP NOT NULL,
    published_by TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, doc, version)
);
--bun:split
CREATE TABLE terms_texts (
    tenant_id   TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    locale      TEXT NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version_id, locale),
    FOREIGN KEY (tenant_id, version_id) REFERENCES terms_versions (tenant_id, id) ON DELETE CASCADE
);
--bun:split
CREATE TABLE terms_acceptances (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    doc         TEXT NOT NULL,
    version     INTEGER NOT NULL,
    accepted_at TIMESTAMP NOT NULL,
    ip          TEXT NOT NULL DEFAULT '',
    locale      TEXT NOT NULL DEFAULT '',
    how         TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, user_id, version_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, version_id) REFERENCES terms_versions (tenant_id, id)
);
--bun:split
CREATE TABLE consents (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    granted     BOOLEAN NOT NULL,
    at          TIMESTAMP NOT NULL,
    ip          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
--bun:split
CREATE INDEX consents_user ON consents (tenant_id, user_id, kind, at);
