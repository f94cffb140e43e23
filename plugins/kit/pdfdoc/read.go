package pdfdoc

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/ledongthuc/pdf"
)

// ExtractText reads back the text of a PDF this package wrote, page by page, one line per
// text operator: tests use it to check what a person would read. The PDF is parsed by
// github.com/ledongthuc/pdf; the strings are decoded here because that reader mishandles
// the one-range ToUnicode map fpdf writes for UTF-8 fonts (it adds the offset to the last
// byte only, so "ż" reads as "|"). fpdf's UTF-8 fonts use the Unicode code point as the
// character id, so each string is UTF-16BE.
func ExtractText(b []byte) (out string, err error) {
	defer func() {
		if r := recover(); r != nil { // the reader panics on a malformed file
			err = fmt.Errorf("pdf: %v", r)
		}
	}()
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i := 1; i <= r.NumPage(); i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		pdf.Interpret(p.V.Key("Contents"), func(stk *pdf.Stack, op string) {
			n := stk.Len()
			args := make([]pdf.Value, n)
			for i := n - 1; i >= 0; i-- {
				args[i] = stk.Pop()
			}
			switch op {
			case "Tj", "'", "\"":
				if n > 0 {
					sb.WriteString(decodeUTF16(args[n-1].RawString()))
				}
				sb.WriteString("\n")
			case "TJ":
				if n > 0 {
					a := args[n-1]
					for j := 0; j < a.Len(); j++ {
						if v := a.Index(j); v.Kind() == pdf.String {
							sb.WriteString(decodeUTF16(v.RawString()))
						}
					}
				}
				sb.WriteString("\n")
			}
		})
	}
	return sb.String(), nil
}

func decodeUTF16(s string) string {
	if len(s)%2 != 0 {
		return s
	}
	u := make([]uint16, len(s)/2)
	for i := range u {
		u[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
	}
	return string(utf16.Decode(u))
}
