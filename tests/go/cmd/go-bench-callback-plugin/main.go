// Command go-bench-callback-plugin is go-plugin's plugin of plugin-bench's
// callback round trip: it serves bench.Caller (plugin "caller", handshake
// BASIC_PLUGIN=hello, protocol 1). Setup dials the host's bench.Callback
// through the gRPC broker, once; each Call then echoes its payload through
// that one connection and returns what came back. See ../../README.md.
package main

import (
	"context"
	"sync/atomic"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gofixtures/internal/callback"
	"gofixtures/internal/shared"
	"gofixtures/proto/bench"
)

// caller implements bench.Caller.
type caller struct {
	bench.UnimplementedCallerServer
	broker *plugin.GRPCBroker
	// The host's Callback, dialled by the last Setup.
	callback atomic.Pointer[bench.CallbackClient]
}

func (c *caller) Setup(_ context.Context, req *bench.SetupRequest) (*bench.SetupReply, error) {
	// go-plugin sends a brokered server's address once: one dial per id.
	conn, err := c.broker.Dial(req.GetCallbackId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dialing the host's Callback (broker id %d): %v", req.GetCallbackId(), err)
	}
	client := bench.NewCallbackClient(conn)
	c.callback.Store(&client)
	return &bench.SetupReply{}, nil
}

func (c *caller) Call(ctx context.Context, req *bench.CallRequest) (*bench.CallReply, error) {
	client := c.callback.Load()
	if client == nil {
		return nil, status.Error(codes.FailedPrecondition, "Call before Setup: no Callback to call")
	}
	reply, err := (*client).Echo(ctx, &bench.EchoRequest{Payload: req.GetPayload()})
	if err != nil {
		return nil, err
	}
	return &bench.CallReply{Payload: reply.GetPayload()}, nil
}

func main() {
	shared.ServeBench("go-bench-callback-plugin", plugin.PluginSet{callback.PluginName: &callback.Plugin{
		NewServer: func(b *plugin.GRPCBroker) bench.CallerServer { return &caller{broker: b} },
	}})
}
