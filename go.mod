module github.com/mvdsguard/mvdsguard

go 1.26.0

require (
	github.com/mattn/go-sqlite3 v1.14.53 // indirect
	github.com/status-im/mvds v0.0.27-0.20240729032523-f6fba962c2b1 // indirect
	go.uber.org/mock v0.6.0 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
	google.golang.org/protobuf v1.26.0 // indirect
)
