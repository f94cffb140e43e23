package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"carenet.dev/platform/core/form"
	"carenet.dev/platform/plugins/kit/input"
)

// multilineFields are the core's form fields that are text areas: only they may hold line
// breaks and tabs (a test keeps the list in step with the templates).
var multilineFields = input.Fields{"answer": true, "reason": true, "change_reason": true, "body": true, "body_*": true, "hostnames": true,
	"permanent_address": true, "question": true, "explanation": true}

// formPages names the page a form is on when it is not the page of the form's own path or of
// a shorter one ("/admin/users/:id/block" is on "/admin/users/:id").
var formPages = map[string]string{"/complaints": "/complaints/new", "/admin/terms/:doc": "/admin/terms/:doc/new",
	"/account/dependants": "/account/dependants/new"}

// pageRoute is a GET route of the core with its permission and handler.
type pageRoute struct {
	perm string
	h    fiber.Handler
}

// checkText refuses text that is not text (form.Text), once for every core route, before its
// handler: a query's bad value is dropped and the page shows the message next to its field
// (422); a form posted with one gets its page again with the messages next to the fields,
// nothing changed (422). Module routes are checked by the module frame.
func (s *Server) checkText(method, path string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		st := St(c)
		vals := map[string][]string{}
		c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { vals[string(k)] = append(vals[string(k)], string(v)) })
		query := form.Text(vals, multilineFields)
		posted := map[string][]string{}
		if method != fiber.MethodGet && method != fiber.MethodHead {
			c.Request().PostArgs().VisitAll(func(k, v []byte) { posted[string(k)] = append(posted[string(k)], string(v)) })
			if strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
				if mf, err := c.MultipartForm(); err == nil {
					for k, vs := range mf.Value {
						posted[k] = append(posted[k], vs...)
					}
					for k, fs := range mf.File {
						for _, f := range fs {
							posted[k] = append(posted[k], f.Filename)
						}
					}
				}
			}
		}
		errs := form.Errors{}
		for k, v := range form.Text(posted, multilineFields) {
			errs[k] = v
		}
		for k, v := range query {
			errs.Add(k, v)
		}
		if len(errs) == 0 {
			return c.Next()
		}
		tenant := "-"
		if st.Tenant != nil {
			tenant = st.Tenant.Slug
		}
		s.Log.Info("input refused", "request_id", st.RequestID, "tenant", tenant, "method", method, "route", path, "fields", errs.Error())
		st.InputErrors, st.InputValues = errs, map[string]string{}
		for k, vs := range posted {
			if _, bad := errs[k]; !bad && len(vs) > 0 && !secretField(k) {
				st.InputValues[k] = vs[0]
			}
		}
		var err error
		if method == fiber.MethodGet || method == fiber.MethodHead {
			// A read: the page without the bad values, the message next to their fields.
			for k := range query {
				c.Request().URI().QueryArgs().Del(k)
			}
			err = c.Next()
		} else if p, ok := s.formPage(path); ok {
			c.Method(fiber.MethodGet)
			var refused bool
			if refused, err = s.require(c, p.perm); !refused && err == nil {
				err = p.h(c)
			}
		}
		if err != nil || st.inputShown {
			return err
		}
		// No page showed the fields: say it on a page of its own.
		c.Response().Header.Del(fiber.HeaderContentDisposition)
		st.inputShown = true
		return s.render(c, fiber.StatusUnprocessableEntity, "error", "error.invalid.title", errorData{Message: "form.text.invalid_form"}, nil)
	}
}

// formPage is the page the form posted to path is on: the GET route of the same path, or of
// the nearest shorter one.
func (s *Server) formPage(path string) (pageRoute, bool) {
	if p, ok := formPages[path]; ok {
		path = p
	}
	for path != "" && path != "/" {
		if p, ok := s.pages[path]; ok {
			return p, true
		}
		i := strings.LastIndexByte(path, '/')
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return pageRoute{}, false
}

// secretField is a field never shown back in a form.
func secretField(name string) bool {
	return name == "_csrf" || strings.Contains(name, "password") || strings.Contains(name, "secret_answer") || name == "answer_check"
}
