package sdk

// Regenerate the wire types (protoc from Debian's protobuf-compiler; protoc-gen-go and
// protoc-gen-go-grpc from the module proxy:
//   go install google.golang.org/protobuf/cmd/protoc-gen-go@latest
//   go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@latest):
//go:generate protoc --proto_path=proto --go_out=internal/pb --go_opt=paths=source_relative --go-grpc_out=internal/pb --go-grpc_opt=paths=source_relative proto/platform.proto
