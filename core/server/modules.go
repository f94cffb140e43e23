package server

import (
	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/tenancy"
)

// bindModules reserves each module's path space. Until the module host launches the module
// processes (the next step of the platform), a module a tenant switched on answers the
// localized 503 page that a module that is down answers; a tenant that did not switch it on
// gets a 404. The module host replaces these handlers with the forward to the plugin.
func (s *Server) bindModules() {
	for _, id := range tenancy.KnownModules {
		id := id
		h := func(c *fiber.Ctx) error {
			if !contains(St(c).Tenant.EnabledModules(), id) {
				return fiber.ErrNotFound
			}
			return fiber.ErrServiceUnavailable
		}
		s.route(fiber.MethodGet, "/"+id, authz.PermPublic, h)
		s.route(fiber.MethodGet, "/"+id+"/*", authz.PermPublic, h)
	}
}
