// Package input is the one check of text that people and machines send, shared by the core
// (page forms and queries) and the module frame (module forms, queries and JSON bodies):
// no NUL or other control character (tab, line feed and carriage return only where a
// multi-line field allows them), valid UTF-8, and no bidirectional override or isolate
// (U+202A–U+202E, U+2066–U+2069), which can make a text read other than it is.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problems of a text.
const (
	OK            = ""
	InvalidUTF8   = "invalid_utf8"
	ControlChar   = "control_character"
	BidiOverride  = "bidi_override"
	MessageText   = "form.text.invalid" // the message shown next to such a field
	MessageType   = "form.type.invalid" // a JSON value of the wrong type
	MessageSyntax = "error.bad_request.text"
)

// Check returns what is wrong with s as text, or OK. multiline allows tab, line feed and
// carriage return.
func Check(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return InvalidUTF8
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			if !multiline {
				return ControlChar
			}
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			return ControlChar
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return BidiOverride
		}
	}
	return OK
}

// Fields says which fields of a form or JSON body are multi-line (their names, or for JSON
// their dotted paths with list indexes as "*": "values.*.comment").
type Fields map[string]bool

// Multiline reports whether field allows line breaks.
func (f Fields) Multiline(field string) bool {
	if f[field] {
		return true
	}
	// body_fr, body_pl…: a field per language.
	if i := strings.LastIndexByte(field, '_'); i > 0 && f[field[:i]+"_*"] {
		return true
	}
	return false
}

// Values checks every value (and name) of a form or query: field → message id.
func Values(vals map[string][]string, lines Fields) map[string]string {
	var out map[string]string
	for k, vs := range vals {
		bad := Check(k, false) != OK
		for _, v := range vs {
			if Check(v, lines.Multiline(k)) != OK {
				bad = true
			}
		}
		if bad {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = MessageText
		}
	}
	return out
}

// ErrSyntax is a body that is not JSON.
var ErrSyntax = errors.New("input: not JSON")

// JSON checks every string (keys too) of a JSON document: field path → message id
// ("patient.last_name", "values.0.label"). A document that is not JSON is ErrSyntax.
func JSON(body []byte, lines Fields) (map[string]string, error) {
	// The decoder turns invalid UTF-8 into U+FFFD without a word: each string's raw bytes
	// are checked too.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	out := map[string]string{}
	var walk func(path string, pattern string) error
	add := func(path string) {
		if path == "" {
			path = "body"
		}
		if _, ok := out[path]; !ok {
			out[path] = MessageText
		}
	}
	walk = func(path, pattern string) error {
		from := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		raw := body[from:dec.InputOffset()]
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				for dec.More() {
					from := dec.InputOffset()
					kt, err := dec.Token()
					if err != nil {
						return err
					}
					k, _ := kt.(string)
					if Check(k, false) != OK || !utf8.Valid(body[from:dec.InputOffset()]) {
						// Named without what is wrong in it.
						k = Strip(k)
						add(join(path, k))
					}
					if err := walk(join(path, k), join(pattern, k)); err != nil {
						return err
					}
				}
				_, err = dec.Token() // '}'
				return err
			case '[':
				for i := 0; dec.More(); i++ {
					if err := walk(join(path, strconv.Itoa(i)), join(pattern, "*")); err != nil {
						return err
					}
				}
				_, err = dec.Token() // ']'
				return err
			}
		case string:
			if Check(t, lines[pattern]) != OK || !utf8.Valid(raw) {
				add(path)
			}
		}
		return nil
	}
	if err := walk("", ""); err != nil {
		return nil, ErrSyntax
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrSyntax
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// TypeField is the field a JSON value of the wrong type was given for in body, with its
// list indexes ("values.0.value"), or "" when err is not such an error.
func TypeField(body []byte, err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return ""
	}
	if p := pathAt(body, te.Offset); p != "" {
		return p
	}
	if te.Field != "" {
		return te.Field
	}
	return "body"
}

// pathAt is the path of the value of body whose first token ends at offset (where the
// decoder reports a value of the wrong type).
func pathAt(body []byte, offset int64) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	found, best := "", ""
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if off := dec.InputOffset(); off == offset {
			found = path
			return io.EOF
		} else if off < offset {
			best = path
		}
		if d, ok := tok.(json.Delim); ok {
			for i := 0; dec.More(); i++ {
				k := strconv.Itoa(i)
				if d == '{' {
					kt, err := dec.Token()
					if err != nil {
						return err
					}
					k, _ = kt.(string)
				}
				if err := walk(join(path, k)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	_ = walk("")
	if found != "" {
		return found
	}
	return best
}

// Strip is s without what Check refuses in one line of text (to name a bad key in a log or
// an answer).
func Strip(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || Check(string(r), false) != OK {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
