-- Files an e-mail carries (a visit's ICS invitation, issue 13): kept with the message in the
-- tenant's outbox until it is delivered (and retried), listed by the development mailbox,
-- and gone with the message (a message marked forget, an erasure).
CREATE TABLE outbox_attachments (
    tenant_id    TEXT NOT NULL,
    outbox_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (tenant_id, outbox_id, seq),
    FOREIGN KEY (tenant_id, outbox_id) REFERENCES outbox (tenant_id, id) ON DELETE CASCADE
);
