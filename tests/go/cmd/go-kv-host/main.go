// Command go-kv-host is a go-plugin host for the proto.KV plugin, used as
// the Go peer in the Rust interop tests. See ../../README.md for the
// contract.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"gofixtures/internal/measure"
	"gofixtures/internal/shared"
	"gofixtures/proto"
)

const usage = `usage: go-kv-host COMMAND [ARGS]

commands:
  put KEY VALUE        store VALUE under KEY
  get KEY              print the value of KEY to stdout (exact bytes)
  put-file KEY PATH    store the contents of file PATH under KEY
  get-file KEY PATH    write the value of KEY to file PATH
  ping                 ping the plugin (gRPC health check), print "ok"
  bench [-calls N] [-size BYTES] [-concurrency C] [-warmup W]
  startup [-runs N]

environment:
  KV_PLUGIN            plugin command, run as: sh -c "$KV_PLUGIN" (required unless KV_REATTACH)
  KV_PLUGIN_NO_SHELL=1 run KV_PLUGIN as the plugin's executable path, without sh
  KV_REATTACH          JSON reattach config; attach instead of launching
  KV_AUTOMTLS=1        enable AutoMTLS
  KV_MULTIPLEX=1       enable gRPC broker multiplexing
  KV_HOST_VERSIONS     comma separated protocol versions offered (default 1)
  KV_SYNC_STDOUT       file receiving the plugin's synced stdout
  KV_SYNC_STDERR       file receiving the plugin's synced stderr
  KV_STDERR            file receiving a raw copy of the plugin's stderr
  KV_BENCH_RSS=1       bench also reports the plugin's VmRSS
`

// stdioWait bounds how long a put to the "stdout"/"stderr" keys waits for
// the bytes to come back over GRPCStdio before the host carries on.
const stdioWait = 5 * time.Second

var logger = hclog.New(&hclog.LoggerOptions{
	Name:       "go-kv-host",
	Level:      hclog.Trace,
	Output:     os.Stderr,
	JSONFormat: true,
})

// ---------------------------------------------------------------------------
// Client bookkeeping: every client ever created is killed before exit.
//
// The plugin runs as `sh -c "$KV_PLUGIN"`, and shells such as dash do not
// exec the last command, so the plugin is a grandchild of the host. go-plugin
// only ever signals its direct child: when it has to SIGKILL (e.g. after a
// failed handshake) the plugin would be orphaned and keep the stdout/stderr
// pipes open, and Client.Kill would wait for those pipes forever. The host
// therefore starts the shell in its own process group and kills that whole
// group when Kill does not finish in time, and once more after it returns.

// killGrace is how long Client.Kill may take (go-plugin itself waits 2 s
// for a graceful exit) before the plugin's process group is SIGKILLed.
const killGrace = 3 * time.Second

type tracked struct {
	client *plugin.Client
	cmd    *exec.Cmd // nil when reattached
}

var (
	clientsMu sync.Mutex
	clients   []tracked
)

func track(t tracked) {
	clientsMu.Lock()
	clients = append(clients, t)
	clientsMu.Unlock()
}

func untrack(c *plugin.Client) {
	clientsMu.Lock()
	defer clientsMu.Unlock()
	for i, t := range clients {
		if t.client == c {
			clients = append(clients[:i], clients[i+1:]...)
			return
		}
	}
}

func killGroup(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	// Negative pid: the process group led by the shell.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// kill kills one client, never waiting forever and never leaving the
// plugin's process group behind.
func kill(t tracked) {
	done := make(chan struct{})
	go func() {
		t.client.Kill()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(killGrace):
		logger.Warn("Kill did not finish in time, killing the plugin's process group")
		killGroup(t.cmd)
		<-done
	}
	killGroup(t.cmd)
}

// killMu serialises killAll, so that an exit path never overtakes a kill
// that is still in progress.
var killMu sync.Mutex

func killAll() {
	killMu.Lock()
	defer killMu.Unlock()
	clientsMu.Lock()
	cs := clients
	clients = nil
	clientsMu.Unlock()
	for _, t := range cs {
		kill(t)
	}
}

var failing atomic.Bool

// fail reports err, kills every plugin client and exits with status 1.
// Only the first caller reports; later callers wait for it to exit.
func fail(err error) {
	if !failing.CompareAndSwap(false, true) {
		for {
			time.Sleep(time.Hour)
		}
	}
	fmt.Fprintf(os.Stderr, "error: %v\n", err)
	killAll()
	os.Exit(1)
}

func usageError(msg string) {
	if msg != "" {
		fmt.Fprintf(os.Stderr, "go-kv-host: %s\n", msg)
	}
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}

// ---------------------------------------------------------------------------
// Stdio sinks that count what arrived, so a put to "stdout"/"stderr" can wait
// for its bytes before the plugin is shut down.

type countingWriter struct {
	mu     sync.Mutex
	w      io.Writer
	n      int64
	notify chan struct{}
}

func newCountingWriter(w io.Writer) *countingWriter {
	return &countingWriter{w: w, notify: make(chan struct{})}
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.w.Write(p)
	c.n += int64(n)
	close(c.notify)
	c.notify = make(chan struct{})
	return n, err
}

func (c *countingWriter) count() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// waitFor waits until at least target bytes have been written in total, or
// the timeout expires. It reports whether the target was reached.
func (c *countingWriter) waitFor(target int64, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		n, ch := c.n, c.notify
		c.mu.Unlock()
		if n >= target {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// ---------------------------------------------------------------------------
// Configuration from the environment.

type reattachJSON struct {
	Protocol        string
	ProtocolVersion int
	Pid             int
	Test            bool
	Addr            struct {
		Network string
		String  string
	}
}

type env struct {
	pluginCmd    string
	noShell      bool
	reattach     *plugin.ReattachConfig
	autoMTLS     bool
	multiplex    bool
	versions     []int
	syncStdout   *countingWriter
	syncStderr   *countingWriter
	stderrCopy   io.Writer
	benchRSS     bool
	filesToClose []*os.File
}

func openOutput(name, path string, e *env) (io.Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	e.filesToClose = append(e.filesToClose, f)
	return f, nil
}

func parseReattach(s string) (*plugin.ReattachConfig, error) {
	var rj reattachJSON
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rj); err != nil {
		return nil, fmt.Errorf("KV_REATTACH: %w", err)
	}
	var addr net.Addr
	switch rj.Addr.Network {
	case "unix":
		addr = &net.UnixAddr{Name: rj.Addr.String, Net: "unix"}
	case "tcp":
		a, err := net.ResolveTCPAddr("tcp", rj.Addr.String)
		if err != nil {
			return nil, fmt.Errorf("KV_REATTACH: %w", err)
		}
		addr = a
	default:
		return nil, fmt.Errorf("KV_REATTACH: unknown Addr.Network %q", rj.Addr.Network)
	}
	return &plugin.ReattachConfig{
		Protocol:        plugin.Protocol(rj.Protocol),
		ProtocolVersion: rj.ProtocolVersion,
		Pid:             rj.Pid,
		Test:            rj.Test,
		Addr:            addr,
	}, nil
}

func loadEnv() (*env, error) {
	e := &env{
		pluginCmd: os.Getenv("KV_PLUGIN"),
		noShell:   os.Getenv("KV_PLUGIN_NO_SHELL") == "1",
		autoMTLS:  os.Getenv("KV_AUTOMTLS") == "1",
		multiplex: os.Getenv("KV_MULTIPLEX") == "1",
		benchRSS:  os.Getenv("KV_BENCH_RSS") == "1",
	}
	var err error
	if e.versions, err = shared.ParseVersions(os.Getenv("KV_HOST_VERSIONS"), []int{1}); err != nil {
		return nil, fmt.Errorf("KV_HOST_VERSIONS: %w", err)
	}
	if s := os.Getenv("KV_REATTACH"); s != "" {
		if e.reattach, err = parseReattach(s); err != nil {
			return nil, err
		}
	} else if e.pluginCmd == "" {
		return nil, errors.New(`KV_PLUGIN is not set: it must hold the plugin command, which is run as sh -c "$KV_PLUGIN" (or set KV_REATTACH)`)
	}

	var out io.Writer = io.Discard
	if p := os.Getenv("KV_SYNC_STDOUT"); p != "" {
		if out, err = openOutput("KV_SYNC_STDOUT", p, e); err != nil {
			return nil, err
		}
	}
	e.syncStdout = newCountingWriter(out)
	out = io.Discard
	if p := os.Getenv("KV_SYNC_STDERR"); p != "" {
		if out, err = openOutput("KV_SYNC_STDERR", p, e); err != nil {
			return nil, err
		}
	}
	e.syncStderr = newCountingWriter(out)
	if p := os.Getenv("KV_STDERR"); p != "" {
		if e.stderrCopy, err = openOutput("KV_STDERR", p, e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// clientConfig builds a fresh ClientConfig (a Cmd can only be started once).
func (e *env) clientConfig() *plugin.ClientConfig {
	set := plugin.PluginSet{shared.PluginName: &shared.KVPlugin{}}
	cfg := &plugin.ClientConfig{
		HandshakeConfig:     shared.Handshake,
		AllowedProtocols:    []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:              logger,
		AutoMTLS:            e.autoMTLS,
		GRPCBrokerMultiplex: e.multiplex,
		SyncStdout:          e.syncStdout,
		SyncStderr:          e.syncStderr,
		Stderr:              e.stderrCopy,
	}
	if e.reattach != nil {
		// Reattach skips negotiation; Dispense uses Plugins directly.
		r := *e.reattach
		cfg.Reattach = &r
		cfg.Plugins = set
	} else {
		cfg.VersionedPlugins = make(map[int]plugin.PluginSet, len(e.versions))
		for _, v := range e.versions {
			cfg.VersionedPlugins[v] = set
		}
		if e.noShell {
			// The plugin itself, no shell in between (start-up benchmarks).
			cfg.Cmd = exec.Command(e.pluginCmd)
		} else {
			cfg.Cmd = exec.Command("sh", "-c", e.pluginCmd)
		}
		cfg.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	return cfg
}

// session is one connected plugin client.
type session struct {
	t   tracked
	rpc plugin.ClientProtocol
	kv  proto.KVClient
}

// connect starts (or attaches to) the plugin and dispenses the KV client.
// The client is tracked (killed by killAll) even when connecting fails.
func (e *env) connect() (*session, error) {
	cfg := e.clientConfig()
	client := plugin.NewClient(cfg)
	s := &session{t: tracked{client: client, cmd: cfg.Cmd}}
	track(s.t)
	rpc, err := client.Client()
	if err != nil {
		// A failed Start has already SIGKILLed the shell, orphaning the
		// plugin behind it; connection errors after Start would lead Kill
		// to the same SIGKILL. Kill the whole group now so that Kill does
		// not wait for the orphan's pipes.
		killGroup(cfg.Cmd)
		return nil, err
	}
	raw, err := rpc.Dispense(shared.PluginName)
	if err != nil {
		return nil, err
	}
	kv, ok := raw.(proto.KVClient)
	if !ok {
		return nil, fmt.Errorf("dispensed %T, want proto.KVClient", raw)
	}
	s.rpc, s.kv = rpc, kv
	logger.Info("negotiated", "version", client.NegotiatedVersion(), "protocol", string(client.Protocol()))
	return s, nil
}

// close kills the session's plugin now and stops tracking it.
func (s *session) close() {
	untrack(s.t.client)
	kill(s.t)
}

// ---------------------------------------------------------------------------

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		usageError("missing command")
	}
	cmd, args := args[0], args[1:]
	nargs := map[string]int{"put": 2, "get": 1, "put-file": 2, "get-file": 2, "ping": 0}
	if n, ok := nargs[cmd]; ok {
		if len(args) != n {
			usageError(fmt.Sprintf("%s takes %d argument(s), got %d", cmd, n, len(args)))
		}
	} else if cmd != "bench" && cmd != "startup" {
		if cmd == "-h" || cmd == "-help" || cmd == "--help" || cmd == "help" {
			fmt.Print(usage)
			os.Exit(0)
		}
		usageError(fmt.Sprintf("unknown command %q", cmd))
	}

	// Never orphan a plugin, even when interrupted.
	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigCh
		fail(fmt.Errorf("interrupted by %v", sig))
	}()

	e, err := loadEnv()
	if err != nil {
		fail(err)
	}

	switch cmd {
	case "put":
		err = doPut(e, args[0], []byte(args[1]))
	case "put-file":
		var value []byte
		if value, err = os.ReadFile(args[1]); err == nil {
			err = doPut(e, args[0], value)
		}
	case "get":
		err = doGet(e, args[0], func(v []byte) error {
			_, err := os.Stdout.Write(v)
			return err
		})
	case "get-file":
		err = doGet(e, args[0], func(v []byte) error {
			return os.WriteFile(args[1], v, 0o644)
		})
	case "ping":
		err = doPing(e)
	case "bench":
		err = doBench(e, args)
	case "startup":
		err = doStartup(e, args)
	}
	if err != nil {
		fail(err)
	}
	killAll()
	for _, f := range e.filesToClose {
		_ = f.Close()
	}
}

func doPut(e *env, key string, value []byte) error {
	sess, err := e.connect()
	if err != nil {
		return err
	}
	kv := sess.kv
	var sink *countingWriter
	switch key {
	case "stdout":
		sink = e.syncStdout
	case "stderr":
		sink = e.syncStderr
	}
	var before int64
	if sink != nil {
		before = sink.count()
	}
	if _, err := kv.Put(context.Background(), &proto.PutRequest{Key: key, Value: value}); err != nil {
		return err
	}
	if sink != nil && !sink.waitFor(before+int64(len(value)), stdioWait) {
		logger.Warn("plugin stdio did not deliver every byte in time",
			"key", key, "expected", len(value), "received", sink.count()-before)
	}
	return nil
}

func doGet(e *env, key string, emit func([]byte) error) error {
	sess, err := e.connect()
	if err != nil {
		return err
	}
	resp, err := sess.kv.Get(context.Background(), &proto.GetRequest{Key: key})
	if err != nil {
		return err
	}
	return emit(resp.GetValue())
}

func doPing(e *env) error {
	sess, err := e.connect()
	if err != nil {
		return err
	}
	if err := sess.rpc.Ping(); err != nil {
		return err
	}
	fmt.Println("ok")
	return nil
}

type benchResult struct {
	measure.Summary
	PluginRSSKB *int64 `json:"plugin_rss_kb,omitempty"`
	PluginPID   *int   `json:"plugin_pid,omitempty"`
}

func doBench(e *env, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	calls := fs.Int("calls", 1000, "number of timed Get calls")
	size := fs.Int("size", 1024, "value size in bytes")
	conc := fs.Int("concurrency", 1, "goroutines sharing the client")
	warmup := fs.Int("warmup", 100, "untimed Get calls before measuring")
	if err := fs.Parse(args); err != nil {
		usageError(err.Error())
	}
	if fs.NArg() != 0 || *calls < 1 || *size < 0 || *conc < 1 || *warmup < 0 {
		usageError("bench: need -calls >= 1, -size >= 0, -concurrency >= 1, -warmup >= 0 and no extra arguments")
	}

	sess, err := e.connect()
	if err != nil {
		return err
	}
	kv := sess.kv
	ctx := context.Background()
	value := measure.Payload(*size)
	if _, err := kv.Put(ctx, &proto.PutRequest{Key: "bench", Value: value}); err != nil {
		return err
	}
	get := func() error {
		resp, err := kv.Get(ctx, &proto.GetRequest{Key: "bench"})
		if err != nil {
			return err
		}
		if !bytes.Equal(resp.GetValue(), value) {
			return fmt.Errorf("bench: Get returned %d bytes that differ from the %d stored", len(resp.GetValue()), len(value))
		}
		return nil
	}
	for i := 0; i < *warmup; i++ {
		if err := get(); err != nil {
			return err
		}
	}

	durs := make([]int64, *calls)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < *conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*calls) {
					return
				}
				t := time.Now()
				if err := get(); err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(*calls))
					return
				}
				durs[i] = time.Since(t).Nanoseconds()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	if firstErr != nil {
		return firstErr
	}

	res := benchResult{Summary: measure.Summarize(durs, *size, *conc, wall)}
	if e.benchRSS {
		rc := sess.t.client.ReattachConfig()
		if rc == nil || rc.Pid == 0 {
			return errors.New("bench: plugin pid unknown, cannot read VmRSS")
		}
		// rc.Pid is the shell's pid when the plugin was launched through
		// sh -c; follow single-child links down to the plugin itself.
		pid := leafDescendant(rc.Pid)
		rss, err := vmRSS(pid)
		if err != nil {
			return err
		}
		res.PluginPID = &pid
		res.PluginRSSKB = &rss
	}
	return printJSON(res)
}

// leafDescendant follows the chain of only children starting at pid (e.g.
// sh -> plugin) and returns its last process.
func leafDescendant(pid int) int {
	for depth := 0; depth < 8; depth++ {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			return pid
		}
		kids := strings.Fields(string(data))
		if len(kids) != 1 {
			return pid
		}
		child, err := strconv.Atoi(kids[0])
		if err != nil {
			return pid
		}
		pid = child
	}
	return pid
}

func vmRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}

type startupResult struct {
	Runs int     `json:"runs"`
	P50  int64   `json:"p50_ns"`
	Min  int64   `json:"min_ns"`
	All  []int64 `json:"all_ns"`
}

func doStartup(e *env, args []string) error {
	fs := flag.NewFlagSet("startup", flag.ContinueOnError)
	runs := fs.Int("runs", 10, "number of launches")
	if err := fs.Parse(args); err != nil {
		usageError(err.Error())
	}
	if fs.NArg() != 0 || *runs < 1 {
		usageError("startup: need -runs >= 1 and no extra arguments")
	}

	// Store the key every run reads.
	sess, err := e.connect()
	if err != nil {
		return err
	}
	if _, err := sess.kv.Put(context.Background(), &proto.PutRequest{Key: "startup", Value: []byte("ready")}); err != nil {
		return err
	}
	sess.close()

	all := make([]int64, 0, *runs)
	for i := 0; i < *runs; i++ {
		t := time.Now()
		sess, err := e.connect()
		if err != nil {
			return err
		}
		if _, err := sess.kv.Get(context.Background(), &proto.GetRequest{Key: "startup"}); err != nil {
			return err
		}
		all = append(all, time.Since(t).Nanoseconds())
		sess.close()
	}
	sorted := append([]int64(nil), all...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return printJSON(startupResult{
		Runs: *runs,
		P50:  measure.Percentile(sorted, 50),
		Min:  sorted[0],
		All:  all,
	})
}

func printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}
