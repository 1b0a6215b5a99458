// Package shared holds what both fixture programs agree on: the handshake
// configuration, the plugin name and the gRPC plugin glue for proto.KV, and
// how plugin-bench's own Go plugins serve (ServeBench).
package shared

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"gofixtures/proto"
)

// Handshake is the handshake both sides use: cookie BASIC_PLUGIN=hello,
// application protocol version 1 (overridden by VersionedPlugins).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "BASIC_PLUGIN",
	MagicCookieValue: "hello",
}

// PluginName is the key of the KV plugin in every plugin set.
const PluginName = "kv"

// KVPlugin is a gRPC-only go-plugin plugin for the proto.KV service.
// Impl is only needed on the plugin side.
type KVPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl proto.KVServer
}

var _ plugin.GRPCPlugin = (*KVPlugin)(nil)

// GRPCServer registers the KV implementation on the plugin's gRPC server.
func (p *KVPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return fmt.Errorf("KVPlugin has no implementation")
	}
	proto.RegisterKVServer(s, p.Impl)
	return nil
}

// GRPCClient returns a proto.KVClient on the host's connection.
func (p *KVPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return proto.NewKVClient(c), nil
}

// ParseVersions parses a comma separated list of protocol versions
// ("1,2,3"). An empty string yields def. Blank entries are ignored;
// anything else that is not a decimal int is an error.
func ParseVersions(s string, def []int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return def, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("invalid protocol version %q in %q", part, s)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return def, nil
	}
	return out, nil
}

// ServeBench serves plugins as the plugin name of plugin-bench's own services
// (go-bench-callback-plugin, go-bench-stream-plugin): the handshake above,
// gRPC only, logging hclog JSON at level info to stderr. A plugin takes no
// arguments: any is a usage error (exit 2).
func ServeBench(name string, plugins plugin.PluginSet) {
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q (a plugin takes none)\n", name, os.Args[1])
		os.Exit(2)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugins,
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       name,
			Level:      hclog.Info,
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	})
}
