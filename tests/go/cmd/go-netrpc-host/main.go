// Command go-netrpc-host is a go-plugin host speaking net/rpc to the plugin
// given as its argument (the Rust netrpc-plugin fixture), for
// tests/tests/e2e/netrpc.rs. It pings, dispenses "greeter", and prints one
// line per check; it exits 0 only if every check passed. NETRPC_AUTO_MTLS=0
// turns AutoMTLS off.
package main

import (
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// syncBuf is a writer the stdio copies and the checks share.
type syncBuf struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// waitFor gives the stdio copies up to 5 s to deliver want.
func waitFor(b *syncBuf, want string) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && b.String() != want; {
		time.Sleep(10 * time.Millisecond)
	}
}

type greeterPlugin struct{}

func (greeterPlugin) Server(b *plugin.MuxBroker) (interface{}, error) { return nil, nil }

func (greeterPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return &remote{broker: b, client: c}, nil
}

type remote struct {
	broker *plugin.MuxBroker
	client *rpc.Client
}

type echo struct{}

func (echo) Echo(text string, resp *string) error {
	*resp = "go host echo: " + text
	return nil
}

func check(failed *bool, what string, got string, err error, want string) {
	if err != nil && want == "" {
		fmt.Printf("FAIL %s: %v\n", what, err)
		*failed = true
		return
	}
	if err != nil {
		got = "error: " + err.Error()
	}
	if got != want {
		fmt.Printf("FAIL %s: got %q, want %q\n", what, got, want)
		*failed = true
		return
	}
	fmt.Printf("ok %s: %s\n", what, got)
}

func main() {
	var stdout, stderr syncBuf
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "NETRPC_PLUGIN",
			MagicCookieValue: "hello",
		},
		Plugins:    map[string]plugin.Plugin{"greeter": greeterPlugin{}},
		Cmd:        exec.Command(os.Args[1]),
		AutoMTLS:   os.Getenv("NETRPC_AUTO_MTLS") != "0",
		SyncStdout: &stdout,
		SyncStderr: &stderr,
		Logger:     hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr}),
	})
	defer client.Kill()
	failed := false
	rpcClient, err := client.Client()
	if err != nil {
		fmt.Printf("FAIL connect: %v\n", err)
		os.Exit(1)
	}
	check(&failed, "protocol", string(client.Protocol()), nil, "netrpc")
	err = rpcClient.Ping()
	check(&failed, "ping", "pong", err, "pong")
	raw, err := rpcClient.Dispense("greeter")
	if err != nil {
		fmt.Printf("FAIL dispense: %v\n", err)
		os.Exit(1)
	}
	g := raw.(*remote)
	var reply string
	err = g.client.Call("Plugin.Greet", "Go", &reply)
	check(&failed, "greet", reply, err, "Hello, Go!")
	reply = ""
	err = g.client.Call("Plugin.Fail", "no luck", &reply)
	check(&failed, "fail", reply, err, "error: no luck")
	err = g.client.Call("Plugin.Missing", "x", &reply)
	check(&failed, "missing", "", err, "error: rpc: can't find method Plugin.Missing")
	// The host serves Plugin.Echo on a MuxBroker id; the plugin dials it.
	id := g.broker.NextId()
	go g.broker.AcceptAndServe(id, echo{})
	reply = ""
	err = g.client.Call("Plugin.CallHost", id, &reply)
	check(&failed, "callhost", reply, err, "go host echo: from rust")
	// No reply: go-plugin's convention, a nil interface{} (what a Rust `()` reply sends).
	var printed interface{}
	err = g.client.Call("Plugin.Print", "to the host", &printed)
	check(&failed, "print", "done", err, "done")
	waitFor(&stdout, "to the host")
	waitFor(&stderr, "err:to the host")
	client.Kill()
	check(&failed, "stdout", stdout.String(), nil, "to the host")
	check(&failed, "stderr", stderr.String(), nil, "err:to the host")
	if failed {
		os.Exit(1)
	}
}
