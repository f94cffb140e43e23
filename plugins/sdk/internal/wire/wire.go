// Package wire holds what both ends of the protocol share and neither shows: the handshake
// values, the message size limit, the header that carries the CSRF token, the header
// conversions, and the hook through which the host's end serves a module in-process (tests).
package wire

import (
	"net/http"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"carenet.dev/platform/plugins/sdk/internal/pb"
)

// Handshake values. They NEVER change: a host and a plugin that disagree on them are not
// talking about the same thing at all. Breaking changes bump sdk.ProtocolVersion instead.
const (
	// MagicCookieKey is the environment variable the host sets for a plugin it launches.
	MagicCookieKey = "PLATFORM_MODULE_PLUGIN"
	// MagicCookieValue is its value.
	MagicCookieValue = "5d1f9a3e-health-platform-module"
	// PluginName is the name of the one plugin a module process serves.
	PluginName = "module"
)

// Handshake is the go-plugin handshake of protocol version v.
func Handshake(v int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{ProtocolVersion: uint(v), MagicCookieKey: MagicCookieKey, MagicCookieValue: MagicCookieValue}
}

// MaxMessageBytes is the largest message either side accepts: a request with an uploaded
// report, a stored PDF read back (gRPC's default of 4 MiB is too small for those).
const MaxMessageBytes = 64 << 20

// CallTokenKey is the gRPC metadata key carrying the scope of a HostAPI call: the token of
// the host call (request, job, event) the module is serving.
const CallTokenKey = "x-platform-call"

// CSRFHeader carries a request's CSRF token on the wire (sdk.Request.CSRF).
const CSRFHeader = "X-Platform-Csrf"

// CoreGrantable are the core permissions a module may grant its roles (sdk.Role.CoreGrants):
// the staff work of a tenant (users, complaints, mailbox, audit), never its settings, roles
// or platform rights.
var CoreGrantable = map[string]bool{"admin.users": true, "admin.complaints": true, "admin.mailbox": true, "admin.audit": true}

// RegisterModule registers a module's gRPC service on s (the module's end). Package sdk sets
// it, so that the host's end can serve a module in the host's own process in tests.
var RegisterModule func(impl any, broker *plugin.GRPCBroker, s *grpc.Server) error

// Serve serves a module announcing protocol version v (the host's tests check that a plugin
// of another version is refused). Package sdk sets it.
var Serve func(impl any, v int)

// HeaderToPB converts HTTP headers to the wire.
func HeaderToPB(h http.Header) []*pb.Header {
	out := make([]*pb.Header, 0, len(h))
	for k, v := range h {
		out = append(out, &pb.Header{Name: k, Values: v})
	}
	return out
}

// HeaderFromPB converts wire headers to HTTP headers.
func HeaderFromPB(hs []*pb.Header) http.Header {
	h := http.Header{}
	for _, x := range hs {
		h[http.CanonicalHeaderKey(x.Name)] = x.Values
	}
	return h
}
