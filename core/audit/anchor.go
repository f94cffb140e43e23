package audit

// Anchoring (P9): the hash chain alone does not stop someone who can write to the database
// (its owner) from rewriting a record and recomputing every hash after it. So the chain head
// of each tenant is signed, at the tenant's interval, with an Ed25519 key that is not in the
// database: a signed checkpoint (tenant, sequence, last record id, head hash, time, key id,
// signature). A rebuilt chain no longer matches the checkpoints signed before the rebuild;
// a forged checkpoint does not verify; and a file of checkpoints a tenant admin downloaded
// and kept elsewhere still catches a rebuild after which the checkpoints table was rewritten
// too. Keys live in a file of PEM blocks, oldest first: the newest private key signs, every
// key (private or public-only) verifies, each known by its id.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
)

// Key is an Ed25519 key of the audit trail; Private is nil for a key that only verifies.
type Key struct {
	ID      string
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Keyring holds the audit keys, oldest first.
type Keyring struct{ Keys []Key }

// ErrNoKey is returned when a key is needed and the keyring has none.
var ErrNoKey = errors.New("audit: no signing key")

// ParseKeyring reads PEM blocks: "PRIVATE KEY" (PKCS #8) and "PUBLIC KEY" (PKIX), Ed25519.
func ParseKeyring(data []byte) (*Keyring, error) {
	k := &Keyring{}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			p, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("audit key: %w", err)
			}
			priv, ok := p.(ed25519.PrivateKey)
			if !ok {
				return nil, errors.New("audit key: not an Ed25519 key")
			}
			pub := priv.Public().(ed25519.PublicKey)
			k.add(Key{ID: KeyID(pub), Public: pub, Private: priv})
		case "PUBLIC KEY":
			p, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("audit key: %w", err)
			}
			pub, ok := p.(ed25519.PublicKey)
			if !ok {
				return nil, errors.New("audit key: not an Ed25519 key")
			}
			k.add(Key{ID: KeyID(pub), Public: pub})
		default:
			return nil, fmt.Errorf("audit key: unexpected PEM block %q", blk.Type)
		}
	}
	if len(k.Keys) == 0 {
		return nil, errors.New("audit key: the file holds no key")
	}
	return k, nil
}

// add appends key unless the ring has it (a private part is kept when either has one).
func (k *Keyring) add(key Key) {
	for i := range k.Keys {
		if k.Keys[i].ID == key.ID {
			if k.Keys[i].Private == nil {
				k.Keys[i].Private = key.Private
			}
			return
		}
	}
	k.Keys = append(k.Keys, key)
}

// Merge adds the keys of o (public keys from an exported file) to k.
func (k *Keyring) Merge(o *Keyring) {
	if o == nil {
		return
	}
	for _, key := range o.Keys {
		k.add(key)
	}
}

// LoadKeyring reads a key file.
func LoadKeyring(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return ParseKeyring(data)
}

// Signer is the newest key with a private part.
func (k *Keyring) Signer() (*Key, error) {
	if k != nil {
		for i := len(k.Keys) - 1; i >= 0; i-- {
			if k.Keys[i].Private != nil {
				return &k.Keys[i], nil
			}
		}
	}
	return nil, ErrNoKey
}

// public returns the key of id.
func (k *Keyring) public(id string) (ed25519.PublicKey, bool) {
	if k == nil {
		return nil, false
	}
	for _, key := range k.Keys {
		if key.ID == id {
			return key.Public, true
		}
	}
	return nil, false
}

// PublicKey is a key as an exported file carries it.
type PublicKey struct {
	ID      string `json:"id"`
	Ed25519 string `json:"ed25519"` // base64 of the 32-byte public key
}

// PublicKeys lists the ring's public keys, oldest first.
func (k *Keyring) PublicKeys() []PublicKey {
	out := []PublicKey{}
	if k == nil {
		return out
	}
	for _, key := range k.Keys {
		out = append(out, PublicKey{ID: key.ID, Ed25519: base64.StdEncoding.EncodeToString(key.Public)})
	}
	return out
}

func encodeKeys(keys []Key) ([]byte, error) {
	var out []byte
	for _, key := range keys {
		var blk *pem.Block
		if key.Private != nil {
			der, err := x509.MarshalPKCS8PrivateKey(key.Private)
			if err != nil {
				return nil, err
			}
			blk = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
		} else {
			der, err := x509.MarshalPKIXPublicKey(key.Public)
			if err != nil {
				return nil, err
			}
			blk = &pem.Block{Type: "PUBLIC KEY", Bytes: der}
		}
		out = append(out, pem.EncodeToMemory(blk)...)
	}
	return out, nil
}

// writeKeyFile writes keys to path, readable by its owner only, replacing it atomically.
func writeKeyFile(path string, keys []Key) error {
	data, err := encodeKeys(keys)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".audit-key-*")
	if err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newKey() (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: KeyID(pub), Public: pub, Private: priv}, nil
}

// EnsureKeyFile creates a key file with one new key at path when there is none (mode 0600)
// and reports whether it did.
func EnsureKeyFile(path string) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("audit key: %w", err)
	}
	key, err := newKey()
	if err != nil {
		return false, err
	}
	return true, writeKeyFile(path, []Key{key})
}

// RotateKeyFile adds a new signing key to the file at path (creating it if needed) and keeps
// the earlier keys as public keys only: they still verify the checkpoints they signed, and
// their private parts are gone from the file. It returns the new key's id.
func RotateKeyFile(path string) (string, error) {
	var keys []Key
	if ring, err := LoadKeyring(path); err == nil {
		for _, key := range ring.Keys {
			keys = append(keys, Key{ID: key.ID, Public: key.Public})
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	key, err := newKey()
	if err != nil {
		return "", err
	}
	return key.ID, writeKeyFile(path, append(keys, key))
}

// Checkpoint is a signed chain head of one tenant.
type Checkpoint struct {
	bun.BaseModel `bun:"table:audit_checkpoints,alias:ac"`

	TenantID  string    `bun:"tenant_id,pk" json:"tenant_id"`
	Seq       int64     `bun:"seq,pk" json:"seq"`
	RecordID  string    `bun:"record_id" json:"record_id"`
	Hash      string    `bun:"hash" json:"hash"`
	At        time.Time `bun:"at" json:"at"`
	KeyID     string    `bun:"key_id" json:"key_id"`
	Signature string    `bun:"signature" json:"signature"` // base64
}

// message is what a checkpoint's signature covers.
func (c *Checkpoint) message() []byte {
	return []byte("carenet-audit-checkpoint/1\n" + c.TenantID + "\n" + strconv.FormatInt(c.Seq, 10) + "\n" + c.RecordID + "\n" +
		c.Hash + "\n" + c.At.UTC().Format(time.RFC3339Nano) + "\n" + c.KeyID)
}

// check verifies c's signature with keys.
func (c *Checkpoint) check(keys *Keyring) error {
	pub, ok := keys.public(c.KeyID)
	if !ok {
		return fmt.Errorf("%w: the checkpoint at record %d is signed by an unknown key %q", ErrBroken, c.Seq, c.KeyID)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, c.message(), sig) {
		return fmt.Errorf("%w: the signature of the checkpoint at record %d does not verify", ErrBroken, c.Seq)
	}
	return nil
}

// Checkpoint signs the tenant's chain head with the newest key, unless the latest checkpoint
// is younger than every or the chain did not grow since. It signs only a chain that extends
// the latest checkpoint: the records since then link to it and their hashes hold (a chain
// rebuilt below a checkpoint is refused, not signed). It returns the new checkpoint, or nil.
func (t *Trail) Checkpoint(ctx context.Context, tenantID string, keys *Keyring, every time.Duration) (*Checkpoint, error) {
	signer, err := keys.Signer()
	if err != nil {
		return nil, err
	}
	now := t.Now().Truncate(time.Microsecond)
	var out *Checkpoint
	err = t.DB.InTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		var last Checkpoint
		err := sc.Select(&last).Order("seq DESC").Limit(1).Scan(ctx)
		hasLast := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if hasLast && now.Sub(last.At) < every {
			return nil
		}
		var h head
		if err := sc.Select(&h).Where("tenant_id = ?", tenantID).Scan(ctx); errors.Is(err, sql.ErrNoRows) {
			return nil // no record yet
		} else if err != nil {
			return err
		}
		if h.Seq == 0 || (hasLast && h.Seq == last.Seq) {
			return nil
		}
		from := int64(1)
		if hasLast {
			if err := last.check(keys); err != nil {
				return err
			}
			from = last.Seq
		}
		var entries []Entry
		if err := sc.Select(&entries).Where("seq >= ? AND seq <= ?", from, h.Seq).Order("seq").Scan(ctx); err != nil {
			return err
		}
		prev := ""
		if hasLast {
			if len(entries) == 0 || entries[0].Seq != last.Seq || entries[0].ID != last.RecordID || entries[0].Hash != last.Hash {
				return fmt.Errorf("%w: record %d no longer matches its signed checkpoint", ErrBroken, last.Seq)
			}
			prev = last.Hash
			entries = entries[1:]
			from++
		}
		if err := verifyEntries(entries, from, prev); err != nil {
			return err
		}
		if n := len(entries); n == 0 || entries[n-1].Seq != h.Seq || entries[n-1].Hash != h.Hash {
			return fmt.Errorf("%w: the chain head does not match its last record", ErrBroken)
		}
		tip := entries[len(entries)-1]
		cp := &Checkpoint{TenantID: tenantID, Seq: tip.Seq, RecordID: tip.ID, Hash: tip.Hash, At: now, KeyID: signer.ID}
		cp.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(signer.Private, cp.message()))
		res, err := sc.Insert(cp).On("CONFLICT (tenant_id, seq) DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = cp
		}
		return nil
	})
	return out, err
}

// Checkpoints returns the tenant's signed checkpoints, oldest first.
func (t *Trail) Checkpoints(ctx context.Context, tenantID string) ([]Checkpoint, error) {
	var out []Checkpoint
	err := t.DB.ReadTenant(ctx, tenantID, func(ctx context.Context, sc *db.Scope) error {
		return sc.Select(&out).Order("seq").Scan(ctx)
	})
	return out, err
}

// ExportFormat names the file of checkpoints a tenant admin downloads.
const ExportFormat = "carenet-audit-checkpoints/1"

// Export is the file of a tenant's checkpoints with the public keys that verify them.
type Export struct {
	Format      string       `json:"format"`
	Tenant      string       `json:"tenant"`
	TenantID    string       `json:"tenant_id"`
	ExportedAt  time.Time    `json:"exported_at"`
	Keys        []PublicKey  `json:"keys"`
	Checkpoints []Checkpoint `json:"checkpoints"`
}

// ParseExport reads an exported file and returns it with a keyring of its public keys.
func ParseExport(data []byte) (*Export, *Keyring, error) {
	var e Export
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, nil, fmt.Errorf("checkpoint file: %w", err)
	}
	if e.Format != ExportFormat || e.TenantID == "" {
		return nil, nil, errors.New("checkpoint file: not a file of audit checkpoints")
	}
	ring := &Keyring{}
	for _, pk := range e.Keys {
		pub, err := base64.StdEncoding.DecodeString(pk.Ed25519)
		if err != nil || len(pub) != ed25519.PublicKeySize || KeyID(pub) != pk.ID {
			return nil, nil, fmt.Errorf("checkpoint file: bad public key %q", pk.ID)
		}
		ring.add(Key{ID: pk.ID, Public: pub})
	}
	for _, c := range e.Checkpoints {
		if c.TenantID != e.TenantID {
			return nil, nil, errors.New("checkpoint file: a checkpoint of another tenant")
		}
	}
	return &e, ring, nil
}

// Anchored is what VerifyAnchored found.
type Anchored struct {
	Records     int64 // records in the chain
	Checkpoints int   // signed checkpoints checked (the database's and the file's)
	UpTo        int64 // the highest record a checkpoint covers
	// UnsignedSince is the time of the first record no checkpoint covers (zero when every
	// record is signed): records left unsigned long after the checkpoint job should have
	// signed them mean checkpoints were deleted, or the platform has not run since.
	UnsignedSince time.Time
}

// VerifyAnchored is Verify, then every signed checkpoint of the tenant (those in the
// database and the external ones, from a file kept outside it) is checked: its signature
// must verify with a key of keys, and the chain must still hold, at its sequence number, the
// record and hash it signed. A chain rebuilt by someone who recomputed every hash fails here.
// Checkpoints but no keys to check them is an error too.
func (t *Trail) VerifyAnchored(ctx context.Context, tenantID string, keys *Keyring, external []Checkpoint) (Anchored, error) {
	var res Anchored
	entries, err := t.verifyChain(ctx, tenantID)
	res.Records = int64(len(entries))
	if err != nil {
		return res, err
	}
	cps, err := t.Checkpoints(ctx, tenantID)
	if err != nil {
		return res, err
	}
	cps = append(cps, external...)
	if len(cps) > 0 && (keys == nil || len(keys.Keys) == 0) {
		return res, fmt.Errorf("%w: %d checkpoint(s) and no public key to check them", ErrNoKey, len(cps))
	}
	for i := range cps {
		c := &cps[i]
		if c.TenantID != tenantID {
			return res, fmt.Errorf("%w: a checkpoint of another tenant", ErrBroken)
		}
		if err := c.check(keys); err != nil {
			return res, err
		}
		if c.Seq < 1 || c.Seq > res.Records {
			return res, fmt.Errorf("%w: a checkpoint signed record %d, the trail has %d", ErrBroken, c.Seq, res.Records)
		}
		if e := entries[c.Seq-1]; e.ID != c.RecordID || e.Hash != c.Hash {
			return res, fmt.Errorf("%w: record %d does not match the checkpoint signed on %s: the trail was rewritten",
				ErrBroken, c.Seq, c.At.UTC().Format(time.RFC3339))
		}
		res.Checkpoints++
		if c.Seq > res.UpTo {
			res.UpTo = c.Seq
		}
	}
	if res.UpTo < res.Records {
		res.UnsignedSince = entries[res.UpTo].At
	}
	return res, nil
}
