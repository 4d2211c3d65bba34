// CI's stand-in for status-go (docs/modules.md): every version below is the
// one status-go's go.mod pins at commit c72f49132, recorded in
// testdata/status-go-c72f49132.pins, and so is every replace but the core's.
module github.com/mvdsguard/mvdsguard/compat/statusgo

go 1.21

require (
	github.com/mutecomm/go-sqlcipher/v4 v4.4.2
	github.com/mvdsguard/mvdsguard v0.0.0-00010101000000-000000000000
	github.com/status-im/mvds v0.0.27-0.20240729032523-f6fba962c2b1
	github.com/waku-org/go-waku v0.8.1-0.20241004054019-0ed94ce0b1cb
	go.uber.org/zap v1.27.0
	golang.org/x/mod v0.20.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang-migrate/migrate/v4 v4.15.2 // indirect
	github.com/hashicorp/errwrap v1.1.0 // indirect
	github.com/hashicorp/go-multierror v1.1.1 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/prometheus/client_golang v1.20.0 // indirect
	github.com/prometheus/client_model v0.6.1 // indirect
	github.com/prometheus/common v0.55.0 // indirect
	github.com/prometheus/procfs v0.15.1 // indirect
	github.com/status-im/migrate/v4 v4.6.2-status.3 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/sys v0.24.0 // indirect
	google.golang.org/protobuf v1.34.2 // indirect
)

replace github.com/mvdsguard/mvdsguard => ../..

replace github.com/mutecomm/go-sqlcipher/v4 v4.4.2 => github.com/status-im/go-sqlcipher/v4 v4.5.4-status.3

replace github.com/ethereum/go-ethereum v1.10.26 => github.com/status-im/go-ethereum v1.10.25-status.18

replace github.com/libp2p/go-libp2p-pubsub v0.12.0 => github.com/waku-org/go-libp2p-pubsub v0.12.0-gowaku.0.20240823143342-b0f2429ca27f

replace github.com/rjeczalik/notify => github.com/status-im/notify v1.0.2-status

replace github.com/docker/docker => github.com/docker/engine v1.4.2-0.20190717161051-705d9623b7c1
