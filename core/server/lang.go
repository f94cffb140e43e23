package server

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The language of a signed-in person's pages is his session's (issue 12.15): the header's
// switcher changes it for this session only, where it used to change the account's preferred
// language too, which the e-mails are written in. That preference changes on the account
// page alone. The session's choice lives in a browser-session cookie tied to the session it
// was made in: a new sign-in starts again from the account's preference.
const cookieSessionLang = "session_lang"

// sessionTag ties a session-language cookie to one session without showing its id.
func sessionTag(sessionID string) string {
	sum := sha256.Sum256([]byte("session_lang:" + sessionID))
	return hex.EncodeToString(sum[:8])
}

// sessionLang is the language the switcher chose in the current session, or "".
func (s *Server) sessionLang(c *fiber.Ctx, st *State) string {
	if st.Session == nil {
		return ""
	}
	lang, tag, ok := strings.Cut(c.Cookies(cookieSessionLang), ":")
	if !ok || tag != sessionTag(st.Session.ID) || !st.Tenant.AllowsLocale(lang) {
		return ""
	}
	return lang
}

// setSessionLang keeps the switcher's choice for the current session (a cookie without an
// expiry: gone with the browser session, and with the session it is tied to).
func (s *Server) setSessionLang(c *fiber.Ctx, st *State, lang string) {
	s.setCookie(c, cookieSessionLang, lang+":"+sessionTag(st.Session.ID), 0)
}
