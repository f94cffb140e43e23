package modules

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/db/dbtest"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/kit/pdfdoc"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
)

// TestBlobsLiveInTheDatabase: a module's file is kept in the database (nothing under the data
// directory), read back by its tenant and module only, refused when its bytes are not what
// the platform stores (HTML behind a "%PDF-" header), typed by its bytes rather than by the
// module's claim, and refused on read once its stored bytes no longer match their SHA-256
// (issue 11.19, 11.9, P8).
func TestBlobsLiveInTheDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, b dbtest.Backend) {
		cfg := b.Config(t)
		d, err := db.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx := context.Background()
		ts := &tenancy.Store{DB: d}
		var ids []string
		for _, slug := range []string{"lab", "other"} {
			f := &tenancy.File{Slug: slug, Settings: tenancy.Settings{Name: slug, DefaultLocale: "fr", Locales: []string{"fr"},
				TimeZone: "Europe/Paris", Currency: "EUR"}, Hostnames: []tenancy.Hostname{{Hostname: slug + ".localhost"}}}
			if _, err := ts.Import(ctx, f, nil, ""); err != nil {
				t.Fatal(err)
			}
			tn, err := ts.BySlug(ctx, slug)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tn.ID)
		}
		doc := pdfdoc.New("Compte rendu", "Lab", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
		doc.Text("Ferritine 9 µg/L")
		pdf, err := doc.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		bl := &Blobs{DB: d, Store: DBBlobs{}, Max: 1 << 20}
		sc := host.Scope{TenantID: ids[0], ModuleID: "results"}
		if _, err := bl.Put(ctx, sc, sdk.Blob{Name: "x.pdf", ContentType: "application/pdf",
			Data: []byte("%PDF-1.4\n<html><script>alert(1)</script></html>")}); !errors.Is(err, ErrRefused) {
			t.Fatalf("HTML behind a PDF header: %v", err)
		}
		id, err := bl.Put(ctx, sc, sdk.Blob{Name: "../../cr.html", ContentType: "text/html", Data: pdf})
		if err != nil {
			t.Fatal(err)
		}
		got, err := bl.Get(ctx, sc, id)
		if err != nil || string(got.Data) != string(pdf) || got.ContentType != "application/pdf" || got.Name != "cr.html" {
			t.Fatalf("get: %v %q %q", err, got.ContentType, got.Name)
		}
		filepath.Walk(cfg.DataDir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && filepath.Ext(path) != ".db" && filepath.Ext(path) != ".db-wal" && filepath.Ext(path) != ".db-shm" {
				t.Errorf("a file outside the database: %s", path)
			}
			return nil
		})
		for _, other := range []host.Scope{{TenantID: ids[1], ModuleID: "results"}, {TenantID: ids[0], ModuleID: "billing"}} {
			if _, err := bl.Get(ctx, other, id); !errors.Is(err, host.ErrNotFound) {
				t.Errorf("%+v read another's file: %v", other, err)
			}
		}
		// Bytes changed behind the platform's back are not served.
		err = d.InTenant(ctx, ids[0], func(ctx context.Context, s *db.Scope) error {
			_, err := s.Update((*blobData)(nil)).Set("data = ?", append([]byte{}, append(pdf[:len(pdf)-1], 'x')...)).Where("id = ?", id).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bl.Get(ctx, sc, id); err == nil {
			t.Fatal("a file that no longer matches its checksum was served")
		}
		if err := bl.Delete(ctx, sc, id); err != nil {
			t.Fatal(err)
		}
		if _, err := bl.Get(ctx, sc, id); !errors.Is(err, host.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}

		// A file stored on disk before files lived in the database is read there once,
		// checked, and moved into the database.
		legacy := t.TempDir()
		bl.LegacyDir = legacy
		old, err := bl.Put(ctx, sc, sdk.Blob{Name: "old.pdf", Data: pdf})
		if err != nil {
			t.Fatal(err)
		}
		err = d.InTenant(ctx, ids[0], func(ctx context.Context, s *db.Scope) error {
			_, err := s.Update((*blobData)(nil)).Set("data = NULL").Where("id = ?", old).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(legacy, ids[0], "results", old)
		os.MkdirAll(filepath.Dir(path), 0o750)
		if err := os.WriteFile(path, pdf, 0o640); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if got, err := bl.Get(ctx, sc, old); err != nil || string(got.Data) != string(pdf) {
				t.Fatalf("legacy file, read %d: %v", i, err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("the legacy file stayed on disk: %v", err)
			}
		}
	})
}
