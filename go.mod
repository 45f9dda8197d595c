module github.com/tiktok-live-server/tiktok-live-server

go 1.26

require google.golang.org/protobuf v1.36.12

require github.com/coder/websocket v1.8.15 // indirect

tool google.golang.org/protobuf/cmd/protoc-gen-go
