-- The catalog of external modules a platform admin registered (or the command line
-- pre-registered): a module of no tenant. Its executable's SHA-256 is checked before every
-- start; who registered it and when are kept here (and in the console's audit trail).
CREATE TABLE module_catalog (
    id                  TEXT PRIMARY KEY,
    version             TEXT NOT NULL,
    path                TEXT NOT NULL,
    sha256              TEXT NOT NULL,
    registered_by       TEXT NOT NULL DEFAULT '',
    registered_by_email TEXT NOT NULL DEFAULT '',
    registered_at       TIMESTAMP NOT NULL
);
