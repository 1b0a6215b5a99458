// Package callback is the go-plugin glue of plugin-bench's callback round
// trip (bench/proto/callback.proto): the plugin serves bench.Caller, the host
// serves bench.Callback through the gRPC broker, and each side reaches the
// broker through this plugin type.
package callback

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"gofixtures/proto/bench"
)

// PluginName is the key of the Caller plugin in every plugin set (the Rust
// bench-plugin serves it under the same name).
const PluginName = "caller"

// Plugin is a gRPC-only go-plugin plugin for bench.Caller. NewServer is only
// needed on the plugin side: it builds the Caller with the connection's
// broker, through which the plugin dials the host's Callback.
type Plugin struct {
	plugin.NetRPCUnsupportedPlugin
	NewServer func(*plugin.GRPCBroker) bench.CallerServer
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// Host is what the host dispenses: the plugin's Caller and the broker through
// which the host serves its Callback.
type Host struct {
	Caller bench.CallerClient
	Broker *plugin.GRPCBroker
}

// GRPCServer registers the Caller on the plugin's gRPC server.
func (p *Plugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.NewServer == nil {
		return fmt.Errorf("callback.Plugin has no NewServer")
	}
	bench.RegisterCallerServer(s, p.NewServer(broker))
	return nil
}

// GRPCClient returns a *Host on the host's connection.
func (p *Plugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return &Host{Caller: bench.NewCallerClient(c), Broker: broker}, nil
}
