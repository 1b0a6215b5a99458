// Command go-orphan-host is a go-plugin host that dies without stopping its
// plugin, for the Rust orphan tests: it launches the plugin, makes one call,
// prints "ready", then ends as ORPHAN_END says. The plugin's sockets go to
// TMPDIR: go-plugin v1.8.0 makes a plugin-dir* socket directory only for a
// RunnerFunc, never for a Cmd.
//
// Usage: go-orphan-host PLUGIN, with
//
//	ORPHAN_LAUNCH       direct (default), sh (sh -c "PLUGIN") or sh-true
//	                    (sh -c "PLUGIN; true")
//	ORPHAN_END          wait (default: wait to be killed; SIGTERM kills it, as
//	                    Go's default) or exit (os.Exit(0) without Kill, once
//	                    stdin is closed)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"gofixtures/internal/shared"
	"gofixtures/proto"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "go-orphan-host: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: go-orphan-host PLUGIN")
	}
	path := os.Args[1]
	var cmd *exec.Cmd
	switch launch := os.Getenv("ORPHAN_LAUNCH"); launch {
	case "", "direct":
		cmd = exec.Command(path)
	case "sh":
		cmd = exec.Command("sh", "-c", path)
	case "sh-true":
		cmd = exec.Command("sh", "-c", path+"; true")
	default:
		return fmt.Errorf("unknown ORPHAN_LAUNCH %q", launch)
	}
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  shared.Handshake,
		Plugins:          plugin.PluginSet{shared.PluginName: &shared.KVPlugin{}},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Cmd:              cmd,
		AutoMTLS:         true,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "go-orphan-host", Output: os.Stderr, Level: hclog.Warn,
		}),
	}
	client := plugin.NewClient(cfg)
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return err
	}
	raw, err := rpc.Dispense(shared.PluginName)
	if err != nil {
		client.Kill()
		return err
	}
	kv, ok := raw.(proto.KVClient)
	if !ok {
		client.Kill()
		return fmt.Errorf("dispensed %T, want proto.KVClient", raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kv.Put(ctx, &proto.PutRequest{Key: "orphan", Value: []byte("go host")}); err != nil {
		client.Kill()
		return err
	}
	fmt.Println("ready")
	if os.Getenv("ORPHAN_END") == "exit" {
		// The test closes stdin once it has seen the plugin running. No Kill:
		// go-plugin leaves the plugin to itself.
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	for {
		time.Sleep(time.Hour)
	}
}
