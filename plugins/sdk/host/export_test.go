package host

import (
	"encoding/json"
	"strings"
	"testing"

	"carenet.dev/platform/plugins/sdk"
)

// TestSplitExportTakesTheFilesOut: a module's export lists its files under "files"; the host
// takes them out of the JSON with their names, and refuses a name that would leave the
// module's folder of the archive (issue 12.16, P11).
func TestSplitExportTakesTheFilesOut(t *testing.T) {
	b, _ := json.Marshal(map[string]any{"module": "results", ExportFiles: []sdk.Blob{{Name: "reports/a.pdf", Data: []byte("%PDF-a")}}})
	js, files, err := SplitExport(b)
	if err != nil || len(files) != 1 || files[0].Name != "reports/a.pdf" || string(files[0].Data) != "%PDF-a" {
		t.Fatalf("%v %v", err, files)
	}
	if strings.Contains(string(js), "files") || !strings.Contains(string(js), `"module":"results"`) {
		t.Fatalf("JSON left: %s", js)
	}
	plain := []byte(`{"module":"x"}`)
	if js, files, err := SplitExport(plain); err != nil || files != nil || string(js) != string(plain) {
		t.Fatalf("an export without files changed: %s %v %v", js, files, err)
	}
	for _, bad := range []string{"../account.json", "/etc/passwd", "reports/../../x", "a//b", "", "r\\x.pdf"} {
		b, _ := json.Marshal(map[string]any{ExportFiles: []sdk.Blob{{Name: bad, Data: []byte("x")}}})
		if _, _, err := SplitExport(b); err == nil {
			t.Errorf("file name %q taken", bad)
		}
	}
	b, _ = json.Marshal(map[string]any{ExportFiles: []sdk.Blob{{Name: "a.pdf"}, {Name: "a.pdf"}}})
	if _, _, err := SplitExport(b); err == nil {
		t.Error("two files of one name taken")
	}
}
