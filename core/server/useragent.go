package server

import (
	"strings"

	useragent "github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
)

// uaParser reads the browser and the system out of a User-Agent header (a kept parser
// with its own data, rather than guesses of ours).
var uaParser = useragent.NewParser()

// uaWords are the names a person knows a browser or a system by, where the parser's own
// differ.
var uaWords = map[string]string{
	string(agents.BrowserIE): "Internet Explorer",
	string(agents.OSMacOS):   "macOS",
}

// DeviceName names the browser and the system of a session in words, in the page's
// language ("Firefox sur Windows"), instead of the raw User-Agent string (issue 12.17).
func (p *Page) DeviceName(ua string) string {
	if strings.TrimSpace(ua) == "" {
		return p.T("account.sessions.device_unknown")
	}
	parsed := uaParser.Parse(ua)
	browser, system := string(parsed.Browser()), string(parsed.OS())
	if w, ok := uaWords[browser]; ok {
		browser = w
	}
	if w, ok := uaWords[system]; ok {
		system = w
	}
	switch {
	case browser != "" && system != "":
		return p.T("account.sessions.device_on", "Browser", browser, "System", system)
	case browser != "":
		return browser
	case system != "":
		return p.T("account.sessions.device_system", "System", system)
	}
	return p.T("account.sessions.device_unknown")
}
