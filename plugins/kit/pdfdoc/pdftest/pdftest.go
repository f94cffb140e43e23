// Package pdftest reads PDFs back in tests with a tool the project did not write: poppler's
// pdftotext, as a person's PDF reader shows the text.
package pdftest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// Text is the text of pdf as pdftotext reads it; with layout, a table's row stays on one
// line. A missing pdftotext fails the test: the CI installs poppler-utils.
func Text(t testing.TB, pdf []byte, layout bool) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Fatal("pdftotext (poppler-utils) is needed to read PDFs back")
	}
	args := []string{"-enc", "UTF-8", "-", "-"}
	if layout {
		args = append([]string{"-layout"}, args...)
	}
	cmd := exec.Command("pdftotext", args...)
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// LineWith is the first line of text holding every one of words, or "".
func LineWith(text string, words ...string) string {
	for _, l := range strings.Split(text, "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(l, w)
		}
		if all {
			return l
		}
	}
	return ""
}
