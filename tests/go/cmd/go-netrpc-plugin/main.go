// Command go-netrpc-plugin is a go-plugin net/rpc plugin (go-plugin's default
// protocol) serving "greeter", the Go peer of the Rust host in
// tests/tests/e2e/netrpc.rs. Its methods, as net/rpc "Plugin.<Method>":
//
//	Greet(name string) string        "Hello, <name>!"
//	Fail(text string) string         returns the error <text>
//	Print(text string) struct{}      writes <text> to stdout and "err:<text>" to stderr
//	Die(status int) struct{}         exits with <status> mid-call
//	CallHost(id uint32) string       dials the host's MuxBroker id, calls Plugin.Echo("from go")
//	Serve(x struct{}) uint32         serves Plugin.Echo on a new MuxBroker id for the host
package main

import (
	"errors"
	"fmt"
	"net/rpc"
	"os"

	"github.com/hashicorp/go-plugin"
)

type greeter struct{ broker *plugin.MuxBroker }

func (g *greeter) Greet(name string, resp *string) error {
	*resp = "Hello, " + name + "!"
	return nil
}

func (g *greeter) Fail(text string, resp *string) error { return errors.New(text) }

func (g *greeter) Print(text string, resp *struct{}) error {
	fmt.Fprint(os.Stdout, text)
	fmt.Fprint(os.Stderr, "err:"+text)
	return nil
}

func (g *greeter) Die(status int, resp *struct{}) error {
	os.Exit(status)
	return nil
}

func (g *greeter) CallHost(id uint32, resp *string) error {
	conn, err := g.broker.Dial(id)
	if err != nil {
		return fmt.Errorf("dial %d: %w", id, err)
	}
	client := rpc.NewClient(conn)
	defer client.Close()
	return client.Call("Plugin.Echo", "from go", resp)
}

type echo struct{}

func (echo) Echo(text string, resp *string) error {
	*resp = "go echo: " + text
	return nil
}

func (g *greeter) Serve(_ struct{}, resp *uint32) error {
	id := g.broker.NextId()
	go g.broker.AcceptAndServe(id, echo{})
	*resp = id
	return nil
}

type greeterPlugin struct{}

func (greeterPlugin) Server(b *plugin.MuxBroker) (interface{}, error) {
	return &greeter{broker: b}, nil
}

func (greeterPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return c, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "NETRPC_PLUGIN",
			MagicCookieValue: "hello",
		},
		Plugins: map[string]plugin.Plugin{"greeter": greeterPlugin{}},
	})
}
