// Package tenants is the demonstration tenant catalog, built into the binary: one directory
// per tenant with its tenant.toml, its logo and its terms. `platform serve` and `platform
// tenants import` read it when no --tenants directory is given, whatever the directory they
// are started from.
package tenants

import "embed"

// Catalog holds every <slug>/ directory of the catalog (this file comes along, harmless:
// only directories with a tenant.toml are tenants).
//
//go:embed *
var Catalog embed.FS
