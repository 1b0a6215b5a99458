// Command go-kv-plugin is a go-plugin gRPC plugin serving proto.KV, used as
// the Go peer in the Rust interop tests. See ../../README.md for the
// contract.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gofixtures/internal/shared"
	"gofixtures/proto"
)

// exitKeyStatus is the exit status used by Put("exit", ...).
const exitKeyStatus = 3

// kvServer implements proto.KV. Values live in files kv_<key> in the
// working directory (or in memory, see memStore); a few keys trigger side
// effects instead.
type kvServer struct {
	proto.UnimplementedKVServer
	version int
	logger  hclog.Logger
	memory  *memStore // nil: files
}

// memStore keeps values in memory instead of files (KV_PLUGIN_STORE=memory),
// so that benchmarks compare RPC costs, not file I/O. Shared by every
// protocol version of the plugin, as the files are.
type memStore struct {
	mu     sync.RWMutex
	values map[string][]byte
}

func (m *memStore) load(key string) ([]byte, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.values[key]
	return v, ok
}

func (m *memStore) save(key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[key] = value
}

var logLevels = map[string]hclog.Level{
	"log-trace": hclog.Trace,
	"log-debug": hclog.Debug,
	"log-info":  hclog.Info,
	"log-warn":  hclog.Warn,
	"log-error": hclog.Error,
}

func fileFor(key string) (string, error) {
	if strings.ContainsAny(key, "/\x00") {
		return "", status.Errorf(codes.InvalidArgument, "invalid key %q: must not contain '/' or NUL", key)
	}
	return "kv_" + key, nil
}

func (s *kvServer) Get(_ context.Context, req *proto.GetRequest) (*proto.GetResponse, error) {
	key := req.GetKey()
	if key == "version" {
		return &proto.GetResponse{Value: []byte(strconv.Itoa(s.version))}, nil
	}
	name, err := fileFor(key)
	if err != nil {
		return nil, err
	}
	if s.memory != nil {
		data, ok := s.memory.load(key)
		if !ok {
			return nil, status.Errorf(codes.NotFound, "key %q not found", key)
		}
		return &proto.GetResponse{Value: data}, nil
	}
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.NotFound, "key %q not found", key)
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "reading key %q: %v", key, err)
	}
	return &proto.GetResponse{Value: data}, nil
}

func (s *kvServer) Put(_ context.Context, req *proto.PutRequest) (*proto.Empty, error) {
	key, value := req.GetKey(), req.GetValue()
	switch key {
	case "stdout":
		// os.Stdout is go-plugin's pipe here (forwarded over GRPCStdio).
		if _, err := os.Stdout.Write(value); err != nil {
			return nil, status.Errorf(codes.Internal, "writing stdout: %v", err)
		}
		return &proto.Empty{}, nil
	case "stderr":
		if _, err := os.Stderr.Write(value); err != nil {
			return nil, status.Errorf(codes.Internal, "writing stderr: %v", err)
		}
		return &proto.Empty{}, nil
	case "exit":
		os.Exit(exitKeyStatus)
	}
	if level, ok := logLevels[key]; ok {
		s.logger.Log(level, string(value), "answer", 42, "source", "go-plugin")
		return &proto.Empty{}, nil
	}
	name, err := fileFor(key)
	if err != nil {
		return nil, err
	}
	if s.memory != nil {
		s.memory.save(key, value)
		return &proto.Empty{}, nil
	}
	if err := os.WriteFile(name, value, 0o644); err != nil {
		return nil, status.Errorf(codes.Internal, "writing key %q: %v", key, err)
	}
	return &proto.Empty{}, nil
}

// reattachJSON is the Terraform TF_REATTACH_PROVIDERS entry shape.
type reattachJSON struct {
	Protocol        string
	ProtocolVersion int
	Pid             int
	Test            bool
	Addr            reattachAddr
}

type reattachAddr struct {
	Network string
	String  string
}

func main() {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "go-kv-plugin",
		Level:      hclog.Trace,
		Output:     os.Stderr, // the real fd 2, captured before Serve swaps os.Stderr
		JSONFormat: true,
	})

	versions, err := shared.ParseVersions(os.Getenv("KV_PLUGIN_VERSIONS"), []int{1})
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-kv-plugin: KV_PLUGIN_VERSIONS: %v\n", err)
		os.Exit(1)
	}
	var memory *memStore
	switch store := os.Getenv("KV_PLUGIN_STORE"); store {
	case "", "files":
	case "memory":
		memory = &memStore{values: make(map[string][]byte)}
	default:
		fmt.Fprintf(os.Stderr, "go-kv-plugin: KV_PLUGIN_STORE: unknown store %q (want files or memory)\n", store)
		os.Exit(1)
	}
	sets := make(map[int]plugin.PluginSet, len(versions))
	for _, v := range versions {
		sets[v] = plugin.PluginSet{
			shared.PluginName: &shared.KVPlugin{Impl: &kvServer{version: v, logger: logger, memory: memory}},
		}
	}

	config := &plugin.ServeConfig{
		HandshakeConfig:  shared.Handshake,
		VersionedPlugins: sets,
		GRPCServer:       plugin.DefaultGRPCServer,
		Logger:           logger,
	}

	if len(os.Args) > 1 && os.Args[1] == "-test-mode" {
		os.Exit(serveTestMode(config))
	}
	if len(os.Args) > 1 {
		fmt.Fprintf(os.Stderr, "go-kv-plugin: unknown argument %q (only -test-mode is accepted)\n", os.Args[1])
		os.Exit(2)
	}
	plugin.Serve(config)
}

// serveTestMode runs the plugin in go-plugin test mode: it prints the
// reattach configuration as one JSON line on stdout and serves until stdin
// reaches EOF, SIGINT/SIGTERM arrives, or the server stops by itself.
func serveTestMode(config *plugin.ServeConfig) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	reattachCh := make(chan *plugin.ReattachConfig, 1)
	closeCh := make(chan struct{})
	config.Test = &plugin.ServeTestConfig{
		Context:          ctx,
		ReattachConfigCh: reattachCh,
		CloseCh:          closeCh,
	}

	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, syscall.SIGINT, syscall.SIGTERM)

	go plugin.Serve(config)

	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattachCh:
	case <-closeCh:
		fmt.Fprintln(os.Stderr, "go-kv-plugin: test-mode server stopped before it produced a reattach config")
		return 1
	}

	line, err := json.Marshal(map[string]reattachJSON{
		shared.PluginName: {
			Protocol:        string(rc.Protocol),
			ProtocolVersion: rc.ProtocolVersion,
			Pid:             rc.Pid,
			Test:            rc.Test,
			Addr: reattachAddr{
				Network: rc.Addr.Network(),
				String:  rc.Addr.String(),
			},
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-kv-plugin: encoding reattach config: %v\n", err)
		cancel()
		<-closeCh
		return 1
	}
	if _, err := os.Stdout.Write(append(line, '\n')); err != nil {
		cancel()
		<-closeCh
		return 1
	}

	stdinDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinDone)
	}()

	select {
	case <-stdinDone:
	case <-sigCh:
	case <-closeCh:
		// The server stopped on its own (e.g. GRPCController.Shutdown).
	}
	cancel()
	<-closeCh
	return 0
}
