package server

import (
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/web"
)

// bindPublic mounts the pages anyone may see: home, legal notice, language switch, branding.
func (s *Server) bindPublic() {
	s.get("/", authz.PermPublic, s.home)
	s.get("/legal", authz.PermPublic, func(c *fiber.Ctx) error {
		return s.render(c, fiber.StatusOK, "legal", "legal.title", nil, nil)
	})
	s.post("/lang", authz.PermPublic, s.switchLang)
	s.get("/branding.css", authz.PermPublic, s.brandingCSS)
	s.get("/branding/logo", authz.PermPublic, s.logo)
	s.get("/favicon.ico", authz.PermPublic, s.favicon)
}

// bindOps mounts static files before tenant resolution (they belong to no tenant).
func (s *Server) bindStatic() {
	s.get("/static/:file", authz.PermPublic, func(c *fiber.Ctx) error {
		name := path.Base(c.Params("file"))
		data, err := fs.ReadFile(web.Static, "static/"+name)
		if err != nil {
			return fiber.ErrNotFound
		}
		c.Set("Cache-Control", "public, max-age=3600")
		c.Type(strings.TrimPrefix(path.Ext(name), "."))
		return c.Send(data)
	})
}

func (s *Server) home(c *fiber.Ctx) error {
	// The same for every anonymous visitor of the tenant in one language: kept.
	return s.renderKept(c, "home", "home.title", map[string]any{"Modules": St(c).Tenant.EnabledModules()})
}

// switchLang records an explicit language choice (the browser's, and the signed-in session's;
// never the account's preference), then returns to the page the switcher was on.
func (s *Server) switchLang(c *fiber.Ctx) error {
	st := St(c)
	lang := c.FormValue("lang")
	if !st.Tenant.AllowsLocale(lang) {
		return fiber.NewError(fiber.StatusBadRequest, "unknown language")
	}
	// The browser's choice, for the pages before sign-in; signed in, the session's only:
	// the account's preferred language (its e-mails') changes on the account page alone.
	s.setCookie(c, cookieLang, lang, 365*24*time.Hour)
	if st.User != nil && st.Session != nil {
		s.setSessionLang(c, st, lang)
	}
	back := st.URL("/")
	if ref := c.Get("Referer"); ref != "" {
		if i := strings.Index(ref, "://"); i >= 0 {
			if j := strings.IndexByte(ref[i+3:], '/'); j >= 0 {
				back = safeNext(st, ref[i+3+j:])
			}
		}
	}
	return c.Redirect(back, fiber.StatusSeeOther)
}

func (s *Server) brandingCSS(c *fiber.Ctx) error {
	b := St(c).Tenant.Settings.Branding
	css := ":root {"
	if b.PrimaryColor != "" {
		css += " --primary: " + b.PrimaryColor + ";"
	}
	if b.AccentColor != "" {
		css += " --accent: " + b.AccentColor + ";"
	}
	css += " }\n"
	c.Type("css")
	c.Vary(fiber.HeaderHost) // one URL, each tenant's colours
	c.Set("Cache-Control", "public, max-age=300")
	return c.SendString(css)
}

func (s *Server) logo(c *fiber.Ctx) error {
	t := St(c).Tenant
	if len(t.Logo) == 0 {
		return fiber.ErrNotFound
	}
	typ := t.LogoType
	if ext, _ := mime.ExtensionsByType(typ); len(ext) == 0 {
		typ = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, typ)
	c.Vary(fiber.HeaderHost) // one URL, each tenant's logo
	// An SVG logo is shown as an image only: no script runs even if opened directly.
	c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	c.Set("Cache-Control", "public, max-age=300")
	c.Set("ETag", fmt.Sprintf(`"%d"`, t.UpdatedAt.Unix()))
	return c.Send(t.Logo)
}

// favicon is the tenant's icon (issue 12.17): its logo, or the platform's default for a
// tenant without one (and the console). One URL answers for every tenant: the answer varies
// with the Host, and says so to caches.
func (s *Server) favicon(c *fiber.Ctx) error {
	t := St(c).Tenant
	c.Vary(fiber.HeaderHost)
	c.Set("Cache-Control", "public, max-age=300")
	if len(t.Logo) == 0 {
		data, err := fs.ReadFile(web.Static, "static/favicon.svg")
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "image/svg+xml")
		return c.Send(data)
	}
	return s.logo(c)
}
