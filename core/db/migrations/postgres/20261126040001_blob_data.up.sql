-- Several instances share one truth: a module's file (a result PDF) and the development
-- mailbox's messages live in the database, not on one instance's disk. A blob's bytes sit in
-- its row (checked against sha256 on every read), under the row-level security blobs already
-- has; a message written to the development mailbox keeps its composed form in its outbox row.
ALTER TABLE blobs ADD COLUMN data BYTEA;
--bun:split
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;
--bun:split
ALTER TABLE outbox ADD COLUMN raw BYTEA;
