package input

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestCheck: issue 11.3 (E4). What is refused as text, and what passes.
func TestCheck(t *testing.T) {
	for s, want := range map[string]string{
		"Marie Durand-Léger": OK, "µg/L ≥ 5 — ok": OK, "a\x00b": ControlChar, "a\x07b": ControlChar, "a\u0085b": ControlChar,
		"a\nb": ControlChar, "a\tb": ControlChar, "a\u202eb": BidiOverride, "a\u2066b": BidiOverride, "a\u2069b": BidiOverride,
		"a\u200fb": OK, // a right-to-left mark is not an override
		"a\xffb":   InvalidUTF8,
	} {
		if got := Check(s, false); got != want {
			t.Errorf("Check(%q) = %q, want %q", s, got, want)
		}
	}
	if Check("a\r\n\tb", true) != OK || Check("a\x00\nb", true) != ControlChar {
		t.Error("multi-line: line breaks and tabs only")
	}
}

// TestJSON: every string of a JSON body is checked, keys too, and named by its path.
func TestJSON(t *testing.T) {
	body := []byte("{\"a\":\"ok\",\"b\":{\"c\":\"x\\u0000\"},\"l\":[\"ok\",{\"d\":\"\xff\"}],\"m\":\"line\\nbreak\",\"n\":[{\"t\":\"1\\n2\"}],\"k\\u202e\":1}")
	got, err := JSON(body, Fields{"n.*.t": true})
	want := map[string]string{"b.c": MessageText, "l.1.d": MessageText, "m": MessageText, "k": MessageText}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON: %v %v, want %v", got, err, want)
	}
	if _, err := JSON([]byte(`{"a":`), nil); err != ErrSyntax {
		t.Fatalf("not JSON: %v", err)
	}
	if got, err := JSON([]byte(`{"a":["x",1,true,null]}`), nil); got != nil || err != nil {
		t.Fatalf("clean: %v %v", got, err)
	}
}

// TestTypeField: a value of the wrong type is named with its list index.
func TestTypeField(t *testing.T) {
	var v struct {
		P struct {
			Name string `json:"name"`
		} `json:"p"`
		L []struct {
			V string `json:"v"`
		} `json:"l"`
	}
	for body, want := range map[string]string{
		`{"p":{"name":12}}`:               "p.name",
		`{"l":[{"v":"a"},{"v":{"x":1}}]}`: "l.1.v",
		`{"l":[{"v":"a"},{"v":[1]}]}`:     "l.1.v",
	} {
		err := json.Unmarshal([]byte(body), &v)
		if got := TypeField([]byte(body), err); got != want {
			t.Errorf("%s: %q, want %q (%v)", body, got, want, err)
		}
	}
}
