-- What a planned maintenance does to the service (P7, B9 [001 art. 7]): it interrupts it,
-- or restricts it ("mode restreint").
ALTER TABLE maintenance_windows ADD COLUMN kind TEXT NOT NULL DEFAULT 'interruption';
