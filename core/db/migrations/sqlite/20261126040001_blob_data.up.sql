-- Several instances share one truth: a module's file (a result PDF) and the development
-- mailbox's messages live in the database, not on one instance's disk. A blob's bytes sit in
-- its row (checked against sha256 on every read); a message written to the development
-- mailbox keeps its composed form in its outbox row.
ALTER TABLE blobs ADD COLUMN data BLOB;
--bun:split
ALTER TABLE outbox ADD COLUMN raw BLOB;
