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

// Blobs stores the modules' files (result PDFs, invoices): the file under
// <Dir>/<tenant>/<module>/<id>, its row (name, type, size, SHA-256) in the tenant's scope. A
// file is read back only by its tenant and module, and only if its checksum still holds.
type Blobs struct {
	DB  *db.DB
	Dir string
	// Max is the largest file accepted (bytes).
	Max int
}

func (b *Blobs) path(tenantID, module, id string) string {
	return filepath.Join(b.Dir, tenantID, module, id)
}

// Put stores a file of the scope's tenant and module.
func (b *Blobs) Put(ctx context.Context, sc host.Scope, blob sdk.Blob) (string, error) {
	if len(blob.Data) > b.Max {
		return "", errors.New("blobs: file too large")
	}
	sum := sha256.Sum256(blob.Data)
	row := &BlobRow{TenantID: sc.TenantID, ID: tenancy.NewID(), Module: sc.ModuleID, Name: filepath.Base(blob.Name),
		ContentType: blob.ContentType, Size: int64(len(blob.Data)), SHA256: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC()}
	path := b.path(sc.TenantID, sc.ModuleID, row.ID)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", fmt.Errorf("blobs: %w", err)
	}
	if err := os.WriteFile(path, blob.Data, 0o640); err != nil {
		return "", fmt.Errorf("blobs: %w", err)
	}
	err := b.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		_, err := dsc.Insert(row).Exec(ctx)
		return err
	})
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return row.ID, nil
}

// Get reads a file of the scope's tenant and module.
func (b *Blobs) Get(ctx context.Context, sc host.Scope, id string) (*sdk.Blob, error) {
	var row BlobRow
	err := b.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		return dsc.Select(&row).Where("id = ? AND module = ?", id, sc.ModuleID).Scan(ctx)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blobs: %w", host.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(b.path(sc.TenantID, sc.ModuleID, row.ID))
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != row.SHA256 {
		return nil, errors.New("blobs: stored file does not match its checksum")
	}
	return &sdk.Blob{Name: row.Name, ContentType: row.ContentType, Data: data}, nil
}

// Delete removes a file of the scope's tenant and module; an unknown id is not an error.
func (b *Blobs) Delete(ctx context.Context, sc host.Scope, id string) error {
	deleted := false
	err := b.DB.InTenant(ctx, sc.TenantID, func(ctx context.Context, dsc *db.Scope) error {
		res, err := dsc.Delete((*BlobRow)(nil)).Where("id = ? AND module = ?", id, sc.ModuleID).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		deleted = n == 1
		return nil
	})
	if err != nil || !deleted {
		return err
	}
	// The row named a stored file: the id is one the core made, safe in a path.
	if err := os.Remove(b.path(sc.TenantID, sc.ModuleID, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
