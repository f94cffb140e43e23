package pluginhost_test

import (
	"context"
	"testing"

	"carenet.dev/platform/core/pluginhost"
	"carenet.dev/platform/plugins/sdk"
	"carenet.dev/platform/plugins/sdk/host"
	"carenet.dev/platform/plugins/sdk/sdktest"
)

// The extra latency a module request pays: the same handler called through the module host
// (another process, gRPC over a Unix socket, with the call scope) and in-process.
// Run: go test -bench Module -run '^$' ./core/pluginhost

func BenchmarkModuleRequestOutOfProcess(b *testing.B) {
	h, err := pluginhost.New(pluginhost.Config{}, discardLog(), nil, sdktest.NewFakeHost().Services(),
		func(string) (sdk.Env, error) { return sdk.Env{}, nil })
	if err != nil {
		b.Fatal(err)
	}
	h.Start(context.Background(), []pluginhost.Spec{{ID: "alpha", Command: self("alpha")}})
	defer h.Stop()
	ten := sdk.Tenant{ID: "t1", Slug: "mlab"}
	req := &sdk.Request{Method: "GET", Path: "/alpha", Tenant: ten}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Handle(ctx, "alpha", host.Call{Tenant: ten}, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkModuleRequestInProcess(b *testing.B) {
	m := echoModule("alpha")
	ten := sdk.Tenant{ID: "t1", Slug: "mlab"}
	req := &sdk.Request{Method: "GET", Path: "/alpha", Tenant: ten}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Handle(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
