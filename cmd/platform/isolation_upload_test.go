package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"testing"
)

// upload posts form with one file, as a page's multipart form does (an application's
// document, a doctor's photo), with the CSRF token of page.
func (b *browser) upload(page, path string, form url.Values, field, name string, data []byte) (int, string) {
	b.p.t.Helper()
	_, body := b.do("GET", page, nil)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		b.p.t.Fatalf("no CSRF token on %s", page)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	_ = mw.WriteField("_csrf", m[1])
	fw, _ := mw.CreateFormFile(field, name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", "http://"+b.host+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	u, _ := url.Parse(b.p.base)
	b.c.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, u.Host)
	}}
	res, err := b.c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b.last = res.Header
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

// blankPNG is a w×h PNG image.
func blankPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
