// Command go-counter-host is go-plugin's examples/bidirectional host with two
// switches more, used as the Go host of the Rust broker tests: the same
// command line (`put KEY N`, `get KEY`), the same plugin (sh -c
// "$COUNTER_PLUGIN"), the same AddHelper served through the gRPC broker for
// every put, and the same output (the count on stdout; `Error: ...` on stdout
// and exit status 1 on failure), but:
//
//   - COUNTER_MULTIPLEX=1 turns on GRPCBrokerMultiplex (brokered connections
//     as yamux streams over the plugin's main connection);
//   - COUNTER_AUTOMTLS=1 turns on AutoMTLS (go-plugin's default, and the
//     example's, is off);
//   - the plugin is always killed before the host exits, its whole process
//     group included (dash does not exec the last command of `sh -c`, so the
//     plugin is the shell's child; see ../../README.md).
//
// The Counter interface, its gRPC glue and the generated code are go-plugin's
// own (package examples/bidirectional/shared of the pinned module).
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/examples/bidirectional/shared"
)

const usage = "Please only use 'get' or 'put'"

// addHelper is the host's half of the work: the plugin calls it back through
// the broker to add the stored count and the new one.
type addHelper struct{}

func (*addHelper) Sum(a, b int64) (int64, error) {
	return a + b, nil
}

func main() {
	// As in go-plugin's example: the plugin's log lines are not shown.
	log.SetOutput(io.Discard)

	cmd := exec.Command("sh", "-c", os.Getenv("COUNTER_PLUGIN"))
	// Its own process group, so that killGroup reaches the plugin behind sh.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:     shared.Handshake,
		Plugins:             shared.PluginMap,
		Cmd:                 cmd,
		AllowedProtocols:    []plugin.Protocol{plugin.ProtocolNetRPC, plugin.ProtocolGRPC},
		AutoMTLS:            os.Getenv("COUNTER_AUTOMTLS") == "1",
		GRPCBrokerMultiplex: os.Getenv("COUNTER_MULTIPLEX") == "1",
	})

	err := run(client, os.Args[1:])
	client.Kill()
	if cmd.Process != nil {
		// Negative pid: the group led by the shell.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		fmt.Println("Error:", err.Error())
		os.Exit(1)
	}
}

// run starts the plugin, dispenses the counter and makes the call.
func run(client *plugin.Client, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	rpcClient, err := client.Client()
	if err != nil {
		return err
	}
	raw, err := rpcClient.Dispense("counter")
	if err != nil {
		return err
	}
	counter, ok := raw.(shared.Counter)
	if !ok {
		return fmt.Errorf("dispensed %T, want shared.Counter", raw)
	}

	switch {
	case args[0] == "get" && len(args) == 2:
		result, err := counter.Get(args[1])
		if err != nil {
			return err
		}
		fmt.Println(result)
	case args[0] == "put" && len(args) == 3:
		i, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		return counter.Put(args[1], int64(i), &addHelper{})
	default:
		return errors.New(usage)
	}
	return nil
}
