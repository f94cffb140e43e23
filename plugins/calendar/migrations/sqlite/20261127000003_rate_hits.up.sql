-- The directory is not harvestable (C1): each client address and each account has a
-- budget of directory requests per window; an upsert counts concurrent hits exactly.
CREATE TABLE calendar_rate_hits (
    tenant_id    TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, bucket, window_start)
);
