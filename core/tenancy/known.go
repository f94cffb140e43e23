package tenancy

import (
	"regexp"
	"sort"
	"sync"
)

// moduleIDRe is what a module id may be: lowercase letters, digits and underscores, starting
// with a letter (the SDK's manifest check, the module's PostgreSQL roles platform_mod_<id>
// and schema mod_<id>, its SQLite file and its path prefix "/<id>" all take it as it is).
var moduleIDRe = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)

// ValidModuleID reports whether id has the form of a module id.
func ValidModuleID(id string) bool { return moduleIDRe.MatchString(id) }

// ModuleSet is the set of module ids one platform knows: the built-ins (KnownModules) and
// the external modules of its module catalog, added as they are registered. Its zero value
// knows the built-ins only; it is safe for concurrent use.
type ModuleSet struct {
	mu  sync.RWMutex
	ext map[string]bool
}

// Add makes id known (an external module was registered).
func (m *ModuleSet) Add(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ext == nil {
		m.ext = map[string]bool{}
	}
	m.ext[id] = true
}

// Has reports whether id is a built-in or a registered module.
func (m *ModuleSet) Has(id string) bool {
	if IsKnownModule(id) {
		return true
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.ext[id]
}

// IDs lists the known modules: the built-ins in their order, then the others sorted.
func (m *ModuleSet) IDs() []string {
	out := append([]string(nil), KnownModules...)
	m.mu.RLock()
	var ext []string
	for id := range m.ext {
		if !IsKnownModule(id) {
			ext = append(ext, id)
		}
	}
	m.mu.RUnlock()
	sort.Strings(ext)
	return append(out, ext...)
}
