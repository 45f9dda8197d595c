// Package pb holds the Go code generated from webcast.proto, our own schema of TikTok's LIVE protocol.
package pb

//go:generate sh -c "protoc --plugin=protoc-gen-go=\"$(go tool -n protoc-gen-go)\" --go_out=. --go_opt=paths=source_relative webcast.proto"
