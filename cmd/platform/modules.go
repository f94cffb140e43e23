package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"carenet.dev/platform/core/db"
	"carenet.dev/platform/core/modules"
	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/core/server"
	"carenet.dev/platform/core/tenancy"
	"carenet.dev/platform/plugins/billing"
	"carenet.dev/platform/plugins/calendar"
	"carenet.dev/platform/plugins/eshop"
	"carenet.dev/platform/plugins/results"
	"carenet.dev/platform/plugins/sdk"
)

// builtins are the modules compiled into this binary; `platform plugin <id>` serves one.
var builtins = map[string]func() sdk.Module{
	"results":  results.New,
	"calendar": calendar.New,
	"eshop":    eshop.New,
	"billing":  billing.New,
}

// servePlugin runs a built-in module as a plugin process (the host launched us).
func servePlugin(id string) error {
	mk, ok := builtins[id]
	if !ok {
		return fmt.Errorf("no built-in module %q", id)
	}
	sdk.Serve(mk())
	return nil
}

// externalModules parses --modules id=/path/to/exe:sha256hex entries: the command line's
// pre-registration of external modules, stored in the module catalog at start (preRegister).
func externalModules(list string) ([]modules.CatalogEntry, error) {
	var out []modules.CatalogEntry
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, rest, ok := strings.Cut(item, "=")
		path, sum, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || !tenancy.ValidModuleID(id) {
			return nil, fmt.Errorf("--modules %q: want <module id>=<path>:<sha256 hex>, the id in lowercase letters, digits and _", item)
		}
		sum, good := modules.NormalizeSum(sum)
		if !good {
			return nil, fmt.Errorf("--modules %q: the SHA-256 must be 64 hex digits", item)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		out = append(out, modules.CatalogEntry{ID: id, Path: abs, SHA256: sum, RegisteredAt: time.Now().UTC()})
	}
	return out, nil
}

// preRegister stores the command line's external modules in the module catalog (an entry
// of the same id takes the executable and checksum the command line gives) and makes them
// known.
func preRegister(ctx context.Context, srv *server.Server, log *slog.Logger, list []modules.CatalogEntry) error {
	for i := range list {
		e := &list[i]
		if err := srv.Catalog().Put(ctx, e); err != nil {
			return fmt.Errorf("--modules %s: %w", e.ID, err)
		}
		srv.Tenants.Known.Add(e.ID)
		log.Info("module registered from the command line", "module", e.ID, "path", e.Path, "sha256", e.SHA256)
	}
	return nil
}

// moduleSpecs lists the modules to launch: each one that at least one tenant switched on,
// in the database or in the tenant catalog about to be imported. A registered external
// module replaces the built-in of the same id.
func moduleSpecs(ctx context.Context, srv *server.Server, catalog fs.FS) ([]pluginhost.Spec, error) {
	enabled := map[string]bool{}
	ts, err := srv.Tenants.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		for _, id := range t.EnabledModules() {
			enabled[id] = true
		}
	}
	if dirs, err := tenancy.CatalogDirs(catalog); err == nil {
		for _, dir := range dirs {
			if f, _, _, err := tenancy.LoadFS(catalog, dir); err == nil {
				for id, m := range f.Modules {
					if m.Enabled {
						enabled[id] = true
					}
				}
			}
		}
	}
	var out []pluginhost.Spec
	for id := range enabled {
		s, ok, err := moduleSpec(ctx, srv, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// moduleSpec says how to launch module id: the external module the catalog registered
// under that id (its SHA-256 checked before every start), else the built-in, re-executing
// this binary.
func moduleSpec(ctx context.Context, srv *server.Server, id string) (pluginhost.Spec, bool, error) {
	e, err := srv.Catalog().Get(ctx, id)
	if err != nil {
		return pluginhost.Spec{}, false, err
	}
	if e != nil {
		path := e.Path
		return pluginhost.Spec{ID: id, SHA256: e.Sum(), Command: func() *exec.Cmd { return exec.Command(path) }}, true, nil
	}
	if _, ok := builtins[id]; !ok {
		return pluginhost.Spec{}, false, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return pluginhost.Spec{}, false, err
	}
	return pluginhost.Spec{ID: id, Command: func() *exec.Cmd { return exec.Command(exe, "plugin", id) }}, true, nil
}

// moduleEnv gives each module its own database and directory.
func moduleEnv(database *db.DB, dataDir string) func(string) (sdk.Env, error) {
	return func(id string) (sdk.Env, error) {
		dsn, owner, kind, err := database.ModuleDSN(context.Background(), id)
		if err != nil {
			return sdk.Env{}, err
		}
		dir := filepath.Join(dataDir, "modules", id+"-files")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return sdk.Env{}, err
		}
		return sdk.Env{DSN: dsn, OwnerDSN: owner, DBKind: string(kind), DataDir: dir}, nil
	}
}
