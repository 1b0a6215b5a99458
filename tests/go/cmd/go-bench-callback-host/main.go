// Command go-bench-callback-host is go-plugin's host of plugin-bench's
// callback round trip. It launches the plugin (the executable itself, no
// shell), dispenses its bench.Caller, serves a bench.Callback of its own
// through the gRPC broker (GRPCBroker.AcceptAndServe) and hands the id to
// Setup, in which the plugin dials it once. Then it times Calls one by one:
// each goes host -> plugin -> (Callback.Echo) host -> plugin -> host, and
// every reply is compared with the payload sent. It prints one JSON line,
// the shape of go-kv-host's bench. See ../../README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"gofixtures/internal/callback"
	"gofixtures/internal/measure"
	"gofixtures/proto/bench"
)

// echo is the host's bench.Callback.
type echo struct {
	bench.UnimplementedCallbackServer
}

func (echo) Echo(_ context.Context, req *bench.EchoRequest) (*bench.EchoReply, error) {
	return &bench.EchoReply{Payload: req.GetPayload()}, nil
}

type options struct {
	plugin   string
	autoMTLS bool
	calls    int
	size     int
	warmup   int
}

func main() {
	var o options
	flag.StringVar(&o.plugin, "plugin", "", "the plugin executable (required; launched directly, no shell)")
	flag.BoolVar(&o.autoMTLS, "automtls", false, "enable AutoMTLS")
	flag.IntVar(&o.calls, "calls", 1000, "number of timed Calls")
	flag.IntVar(&o.size, "size", 64, "payload bytes")
	flag.IntVar(&o.warmup, "warmup", 100, "untimed Calls before measuring")
	flag.Parse()
	if o.plugin == "" || flag.NArg() != 0 || o.calls < 1 || o.size < 0 || o.warmup < 0 {
		fmt.Fprintln(os.Stderr, "go-bench-callback-host: need -plugin PATH, -calls >= 1, -size >= 0, -warmup >= 0 and no extra arguments")
		flag.Usage()
		os.Exit(2)
	}
	measure.Print(run(o))
}

// run starts the plugin, measures, and always kills the plugin.
func run(o options) (measure.Summary, error) {
	raw, stop, err := measure.Launch("go-bench-callback-host", o.plugin, o.autoMTLS,
		plugin.PluginSet{callback.PluginName: &callback.Plugin{}}, callback.PluginName)
	defer stop()
	if err != nil {
		return measure.Summary{}, err
	}
	host, ok := raw.(*callback.Host)
	if !ok {
		return measure.Summary{}, fmt.Errorf("dispensed %T, want *callback.Host", raw)
	}
	id := host.Broker.NextId()
	// Served until the client is killed.
	go host.Broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(opts...)
		bench.RegisterCallbackServer(s, echo{})
		return s
	})
	ctx := context.Background()
	if _, err := host.Caller.Setup(ctx, &bench.SetupRequest{CallbackId: id}); err != nil {
		return measure.Summary{}, fmt.Errorf("Setup: %w", err)
	}
	payload := measure.Payload(o.size)
	call := func() error {
		reply, err := host.Caller.Call(ctx, &bench.CallRequest{Payload: payload})
		if err != nil {
			return fmt.Errorf("Call: %w", err)
		}
		if !bytes.Equal(reply.GetPayload(), payload) {
			return errors.New("Call: the payload came back changed")
		}
		return nil
	}
	for i := 0; i < o.warmup; i++ {
		if err := call(); err != nil {
			return measure.Summary{}, err
		}
	}
	durs := make([]int64, o.calls)
	start := time.Now()
	for i := range durs {
		t := time.Now()
		if err := call(); err != nil {
			return measure.Summary{}, err
		}
		durs[i] = time.Since(t).Nanoseconds()
	}
	return measure.Summarize(durs, o.size, 1, time.Since(start)), nil
}
