package modules

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/uptrace/bun"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/upload"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// BlobRow describes a stored file of a module in a tenant.
type BlobRow struct {
	bun.BaseModel `bun:"table:blobs,alias:b"`

	TenantID    string    `bun:"tenant_id,pk"`
	ID          string    `bun:"id,pk"`
	Module      string    `bun:"module"`
	Name        string    `bun:"name"`
	ContentType string    `bun:"content_type"`
	Size        int64     `bun:"size"`
	SHA256      string    `bun:"sha256"`
	CreatedAt   time.Time `bun:"created_at"`
}

// BlobStore keeps the bytes of stored files; the core keeps their rows (module, name, type,
// size, SHA-256) and checks every read against the checksum. Each call runs in the
// transaction of the row it concerns (sc, scoped to the row's tenant): the database store
// writes in it, an object store (later) would key the bytes by tenant and id and ignore it.
// Every instance of the platform must read the same bytes: a store on one instance's disk is
// not one.
type BlobStore interface {
	Write(ctx context.Context, sc *db.Scope, row *BlobRow, data []byte) error
	Read(ctx context.Context, sc *db.Scope, row *BlobRow) ([]byte, error)
	Remove(ctx context.Context, sc *db.Scope, row *BlobRow) error
}

// DBBlobs keeps the bytes in the blob's row (blobs.data): on PostgreSQL a tenant's files are
// under the same row-level security as its other rows, and every instance reads them.
type DBBlobs struct{}

type blobData struct {
	bun.BaseModel `bun:"table:blobs,alias:b"`

	ID   string `bun:"id,pk"`
	Data []byte `bun:"data"`
}

// Write stores data in the row.
func (DBBlobs) Write(ctx context.Context, sc *db.Scope, row *BlobRow, data []byte) error {
	res, err := sc.Update((*blobData)(nil)).Set("data = ?", data).Where("id = ?", row.ID).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errors.New("blobs: row to write not found")
	}
	return nil
}

// Read returns the row's bytes.
func (DBBlobs) Read(ctx context.Context, sc *db.Scope, row *BlobRow) ([]byte, error) {
	var d blobData
	if err := sc.Select(&d).Column("data").Where("id = ?", row.ID).Scan(ctx); err != nil {
		return nil, err
	}
	return d.Data, nil
}

// Remove does nothing: the bytes go with the row.
func (DBBlobs) Remove(context.Context, *db.Scope, *BlobRow) error { return nil }

// Blobs stores the modules' files (result PDFs, invoices): the row (name, type, size,
// SHA-256) in the tenant's scope, the bytes in Store. A file is read back only by its tenant
// and module, and only if its checksum still holds. The HostAPI's blob calls land here.
type Blobs struct {
	DB    *db.DB
	Store BlobStore
	// Max is the largest file accepted (bytes).
	Max int
	// LegacyDir is where files stored before they lived in the database are
	// (<dir>/<tenant>/<module>/<id>): such a file is read there once, checked against its
	// checksum and moved into the store.
	LegacyDir string
}

func (b *Blobs) store() BlobStore {
	if b.Store == nil {
		return DBBlobs{}
	}
	return b.Store
}

// Kinds are what a module may store: what its bytes are is checked the same way as every
// upload (a PDF that parses, an image that decodes), and the stored type is the detected one,
// never the one the module claimed.
var Kinds = []upload.Kind{upload.PDF, upload.PNG, upload.JPEG}

// ErrRefused: the bytes are not a file the platform stores.
var ErrRefused = errors.New("blobs: not an accepted file")

// Put stores a file of the scope's tenant and module.
func (b *Blobs) Put(ctx context.Context, sc host.Scope, blob sdk.Blob) (string, error) {
	if len(blob.Data) > b.Max {
		return "", errors.New("blobs: file too large")
	}
	k, err := upload.Check(blob.Data, Kinds...)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRefused, err)
	}
	sum := sha256.Sum256(blob.Data)
	row := &BlobRow{TenantID: sc.TenantID, ID: tenancy.NewID(), Module: sc.ModuleID, Name: upload.DisplayName(blob.Name),
		ContentType: k.ContentType, Size: int64(len(blob.Data)), SHA256: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC()}
	err = b.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		if _, err := dsc.Insert(row).Exec(ctx); err != nil {
			return err
		}
		return b.store().Write(ctx, dsc, row, blob.Data)
	})
	if err != nil {
		return "", fmt.Errorf("blobs: %w", err)
	}
	return row.ID, nil
}

// Get reads a file of the scope's tenant and module.
func (b *Blobs) Get(ctx context.Context, sc host.Scope, id string) (*sdk.Blob, error) {
	var row BlobRow
	var data []byte
	err := b.DB.ReadTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		if err := dsc.Select(&row).Where("id = ? AND module = ?", id, sc.ModuleID).Scan(ctx); err != nil {
			return err
		}
		var err error
		data, err = b.store().Read(ctx, dsc, &row)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blobs: %w", host.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	legacy := data == nil && b.LegacyDir != ""
	if legacy {
		// The row and module ids are the core's own: safe in a path.
		if data, err = os.ReadFile(filepath.Join(b.LegacyDir, row.TenantID, row.Module, row.ID)); err != nil {
			return nil, fmt.Errorf("blobs: file %s of tenant %s has no bytes: %w", row.ID, row.TenantID, err)
		}
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != row.SHA256 {
		return nil, fmt.Errorf("blobs: file %s of tenant %s does not match its checksum", row.ID, row.TenantID)
	}
	if legacy {
		err := b.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
			return b.store().Write(ctx, dsc, &row, data)
		})
		if err != nil {
			return nil, fmt.Errorf("blobs: move file %s into the store: %w", row.ID, err)
		}
		_ = os.Remove(filepath.Join(b.LegacyDir, row.TenantID, row.Module, row.ID))
	}
	return &sdk.Blob{Name: row.Name, ContentType: row.ContentType, Data: data}, nil
}

// Delete removes a file of the scope's tenant and module; an unknown id is not an error.
func (b *Blobs) Delete(ctx context.Context, sc host.Scope, id string) error {
	return b.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		row := &BlobRow{TenantID: sc.TenantID, ID: id, Module: sc.ModuleID}
		res, err := dsc.Delete((*BlobRow)(nil)).Where("id = ? AND module = ?", id, sc.ModuleID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		return b.store().Remove(ctx, dsc, row)
	})
}
