// Package transfer is the go-plugin glue of plugin-bench's stream throughput
// (bench/proto/transfer.proto): the plugin serves bench.Transfer, whose
// Download streams items to the host and whose Upload takes the host's.
package transfer

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"gofixtures/proto/bench"
)

// PluginName is the key of the Transfer plugin in every plugin set (the Rust
// bench-plugin serves it under the same name).
const PluginName = "transfer"

// Plugin is a gRPC-only go-plugin plugin for bench.Transfer. Impl is only
// needed on the plugin side.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl bench.TransferServer
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the Transfer on the plugin's gRPC server.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return fmt.Errorf("transfer.Plugin has no Impl")
	}
	bench.RegisterTransferServer(s, p.Impl)
	return nil
}

// GRPCClient returns a bench.TransferClient on the host's connection.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return bench.NewTransferClient(c), nil
}
