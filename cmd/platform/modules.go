package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"carenet.dev/platform/core/db"
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

// externalModules parses --module id=/path/to/exe:sha256hex entries.
func externalModules(list string) ([]pluginhost.Spec, error) {
	var out []pluginhost.Spec
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, rest, ok := strings.Cut(item, "=")
		path, sum, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 || !tenancy.IsKnownModule(id) {
			return nil, fmt.Errorf("--modules %q: want <known module id>=<path>:<sha256 hex>", item)
		}
		raw, err := hex.DecodeString(sum)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("--modules %q: the SHA-256 must be 64 hex digits", item)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		out = append(out, pluginhost.Spec{ID: id, SHA256: raw, Command: func() *exec.Cmd { return exec.Command(abs) }})
	}
	return out, nil
}

// moduleSpecs lists the modules to launch: each one that at least one tenant switched on,
// in the database or in the tenant catalog about to be imported. An external module
// replaces the built-in of the same id.
func moduleSpecs(ctx context.Context, srv *server.Server, tenantsDir string, external []pluginhost.Spec) ([]pluginhost.Spec, error) {
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
	if entries, err := os.ReadDir(tenantsDir); err == nil {
		for _, e := range entries {
			if f, _, _, err := tenancy.LoadFile(filepath.Join(tenantsDir, e.Name())); err == nil {
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
		if s, ok := moduleSpec(id, external); ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// moduleSpec says how to launch module id: the external module registered under that id,
// else the built-in, re-executing this binary.
func moduleSpec(id string, external []pluginhost.Spec) (pluginhost.Spec, bool) {
	for _, e := range external {
		if e.ID == id {
			return e, true
		}
	}
	if _, ok := builtins[id]; !ok {
		return pluginhost.Spec{}, false
	}
	exe, err := os.Executable()
	if err != nil {
		return pluginhost.Spec{}, false
	}
	return pluginhost.Spec{ID: id, Command: func() *exec.Cmd { return exec.Command(exe, "plugin", id) }}, true
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
