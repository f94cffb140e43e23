package store

// PreparedReads is how many texts d's read pool holds prepared.
func PreparedReads(d *DB) int {
	d.rs.mu.Lock()
	defer d.rs.mu.Unlock()
	return len(d.rs.m)
}
