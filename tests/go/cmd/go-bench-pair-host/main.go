// Command go-bench-pair-host is one go-plugin host timing two proto.KV
// plugins alternately: rust-plugin's bench-plugin (-rust) and go-plugin's
// go-kv-plugin (-go). In every round, for every AutoMTLS setting, it
// launches the two in turn (the order swapped each round, so that drift on a
// shared machine hits both alike) and measures for each:
//
//   - start-up: spawn to the first successful Get("startup") == "ready"
//     through go-plugin's client (NewClient, Client, Dispense, Get), after
//     one untimed start-up of each;
//   - round trips: one fresh plugin, Put("bench", SIZE bytes), W untimed and
//     N timed Get("bench") one at a time, every reply compared;
//   - resident memory: VmRSS and VmHWM of that plugin's process (its pid from
//     ReattachConfig; the plugin is launched directly, no shell) after
//     -memory-calls Gets in all.
//
// The Rust plugin must answer Get("startup") at once (plugin-bench sets
// BENCH_PLUGIN_SEED=startup=ready in this host's environment, which every
// plugin inherits). go-kv-plugin's start-ups use its file store, in a
// private work directory where one untimed session stores the value first;
// its round trips use KV_PLUGIN_STORE=memory, like bench-plugin's store.
//
// A plugin that fails is reported with its error and not measured again;
// the other one carries on. Prints one line of JSON (see ../../README.md);
// exits 1 only if the host itself cannot run or is interrupted (SIGINT,
// SIGTERM, SIGHUP: every plugin is killed first), 2 on usage errors.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"gofixtures/internal/measure"
	"gofixtures/internal/shared"
	"gofixtures/proto"
)

type options struct {
	rust, goPlugin string
	mtls           []bool
	rounds         int
	startups       int
	calls          int
	warmup         int
	memoryCalls    int
	size           int
}

// candidate is one of the two plugins under test.
type candidate struct {
	name string // "rust" or "go"
	path string
	// env is added to the host's environment for calls, startupEnv for
	// start-ups (they win over the host's: SkipHostEnv below).
	env, startupEnv []string
	// dir is the working directory of start-ups ("" inherits the host's).
	dir string
}

// Resident is a plugin's memory, from /proc/<pid>/status.
type Resident struct {
	VmRSSKB int64 `json:"vm_rss_kb"`
	VmHWMKB int64 `json:"vm_hwm_kb"`
}

// Cell is what one plugin measured under one AutoMTLS setting, over rounds.
type Cell struct {
	Plugin   string            `json:"plugin"`
	AutoMTLS bool              `json:"automtls"`
	Error    string            `json:"error,omitempty"`
	Startup  []int64           `json:"startup_ns"`
	Calls    []measure.Summary `json:"calls"`
	Memory   []Resident        `json:"memory"`
}

// Output is the JSON line printed.
type Output struct {
	Rounds      int     `json:"rounds"`
	MemoryCalls int     `json:"memory_calls"`
	Cells       []*Cell `json:"cells"`
}

var logger = hclog.New(&hclog.LoggerOptions{
	Name:       "go-bench-pair-host",
	Level:      hclog.Info,
	Output:     os.Stderr,
	JSONFormat: true,
})

func parseMTLS(s string) ([]bool, error) {
	var out []bool
	for _, part := range strings.Split(s, ",") {
		switch strings.TrimSpace(part) {
		case "off":
			out = append(out, false)
		case "on":
			out = append(out, true)
		default:
			return nil, fmt.Errorf("-automtls takes off, on or off,on, not %q", s)
		}
	}
	return out, nil
}

func main() {
	var o options
	var mtls string
	flag.StringVar(&o.rust, "rust", "", "rust-plugin's bench plugin (required; launched directly, no shell)")
	flag.StringVar(&o.goPlugin, "go", "", "go-plugin's go-kv-plugin (required; launched directly, no shell)")
	flag.StringVar(&mtls, "automtls", "off,on", "AutoMTLS settings to measure: off, on or off,on")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds")
	flag.IntVar(&o.startups, "startups", 7, "start-ups per plugin, setting and round")
	flag.IntVar(&o.calls, "calls", 3000, "timed Gets per plugin, setting and round")
	flag.IntVar(&o.warmup, "warmup", 300, "untimed Gets before the timed ones")
	flag.IntVar(&o.memoryCalls, "memory-calls", 10000, "Gets in all before the plugin's memory is read")
	flag.IntVar(&o.size, "size", 64, "value bytes")
	flag.Parse()
	var err error
	if o.mtls, err = parseMTLS(mtls); err != nil {
		usage(err.Error())
	}
	if o.rust == "" || o.goPlugin == "" || flag.NArg() != 0 || o.rounds < 1 || o.startups < 1 ||
		o.calls < 1 || o.warmup < 0 || o.memoryCalls < 0 || o.size < 0 {
		usage("need -rust PATH, -go PATH, -rounds >= 1, -startups >= 1, -calls >= 1, -warmup >= 0, -memory-calls >= 0, -size >= 0 and no extra arguments")
	}
	// Absolute: go-kv-plugin's start-ups run in a work directory of their own.
	for _, path := range []*string{&o.rust, &o.goPlugin} {
		if *path, err = filepath.Abs(*path); err != nil {
			fail(err)
		}
	}
	work, err := os.MkdirTemp("", "go-bench-pair-host")
	if err != nil {
		fail(fmt.Errorf("creating go-kv-plugin's work directory: %w", err))
	}
	// Never orphan a plugin nor leave the work directory, even when interrupted.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-signals
		plugin.CleanupClients()
		os.RemoveAll(work)
		fail(fmt.Errorf("interrupted by %v", sig))
	}()
	out, err := run(o, work)
	os.RemoveAll(work)
	if err == nil {
		var line []byte
		if line, err = json.Marshal(out); err == nil {
			_, err = os.Stdout.Write(append(line, '\n'))
		}
	}
	if err != nil {
		fail(err)
	}
}

// fail says why on stderr and exits 1.
func fail(err error) {
	fmt.Fprintf(os.Stderr, "error: %v\n", err)
	os.Exit(1)
}

func usage(msg string) {
	fmt.Fprintf(os.Stderr, "go-bench-pair-host: %s\n", msg)
	flag.Usage()
	os.Exit(2)
}

// run measures; go-kv-plugin's start-ups run in work.
func run(o options, work string) (*Output, error) {
	plugins := []*candidate{
		{name: "rust", path: o.rust},
		{
			name:       "go",
			path:       o.goPlugin,
			env:        []string{"KV_PLUGIN_STORE=memory"},
			startupEnv: []string{"KV_PLUGIN_STORE=files"},
			dir:        work,
		},
	}
	out := &Output{Rounds: o.rounds, MemoryCalls: o.memoryCalls}
	cells := map[string]*Cell{}
	for _, on := range o.mtls {
		for _, p := range plugins {
			c := &Cell{Plugin: p.name, AutoMTLS: on, Startup: []int64{}, Calls: []measure.Summary{}, Memory: []Resident{}}
			cells[key(p, on)] = c
			out.Cells = append(out.Cells, c)
		}
	}
	// go-kv-plugin's start-ups read the value from its file store: store it once.
	if err := storeStartupValue(plugins[1]); err != nil {
		for _, on := range o.mtls {
			cells[key(plugins[1], on)].Error = "storing the start-up value: " + err.Error()
		}
	}
	// One untimed start-up of each plugin per setting first: the page cache
	// and each side's first-use costs are then the same for every timed one.
	for _, on := range o.mtls {
		for _, p := range plugins {
			if c := cells[key(p, on)]; c.Error == "" {
				if _, err := startup(p, on); err != nil {
					c.Error = "warm-up start-up: " + err.Error()
				}
			}
		}
	}
	for round := 0; round < o.rounds; round++ {
		order := []*candidate{plugins[0], plugins[1]}
		if round%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, on := range o.mtls {
			for i := 0; i < o.startups; i++ {
				for _, p := range order {
					c := cells[key(p, on)]
					if c.Error != "" {
						continue
					}
					ns, err := startup(p, on)
					if err != nil {
						c.Error = "start-up: " + err.Error()
						continue
					}
					c.Startup = append(c.Startup, ns)
				}
			}
			for _, p := range order {
				c := cells[key(p, on)]
				if c.Error != "" {
					continue
				}
				summary, resident, err := session(p, on, o)
				if err != nil {
					c.Error = err.Error()
					continue
				}
				c.Calls = append(c.Calls, summary)
				c.Memory = append(c.Memory, resident)
				logger.Info("measured", "round", round+1, "plugin", p.name, "automtls", on,
					"p50_ns", summary.P50, "vm_rss_kb", resident.VmRSSKB)
			}
		}
	}
	return out, nil
}

func key(p *candidate, on bool) string {
	return p.name + "/" + strconv.FormatBool(on)
}

// launched is one running plugin: its client, its dispensed KV and its command.
type launched struct {
	client *plugin.Client
	cmd    *exec.Cmd
	kv     proto.KVClient
}

// launch starts p (for a start-up when startup) and dispenses its KV. Call
// stop whatever happened.
func launch(p *candidate, autoMTLS, startup bool) (*launched, error) {
	cmd := exec.Command(p.path)
	cmd.Env = append(os.Environ(), p.env...)
	if startup {
		cmd.Env = append(cmd.Env, p.startupEnv...)
		cmd.Dir = p.dir
	}
	// Its own process group, killed whole by stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	l := &launched{cmd: cmd}
	l.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  shared.Handshake,
		Plugins:          plugin.PluginSet{shared.PluginName: &shared.KVPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         autoMTLS,
		SkipHostEnv:      true, // cmd.Env has it, before p's own variables
		Managed:          true, // killed by plugin.CleanupClients on a signal
		Logger:           logger.Named(p.name),
	})
	rpc, err := l.client.Client()
	if err != nil {
		return l, err
	}
	raw, err := rpc.Dispense(shared.PluginName)
	if err != nil {
		return l, err
	}
	kv, ok := raw.(proto.KVClient)
	if !ok {
		return l, fmt.Errorf("dispensed %T, want proto.KVClient", raw)
	}
	l.kv = kv
	return l, nil
}

// stop kills the plugin and its whole process group.
func (l *launched) stop() {
	l.client.Kill()
	if l.cmd.Process != nil {
		_ = syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func storeStartupValue(p *candidate) error {
	l, err := launch(p, false, true)
	defer l.stop()
	if err != nil {
		return err
	}
	_, err = l.kv.Put(context.Background(), &proto.PutRequest{Key: "startup", Value: []byte("ready")})
	return err
}

// startup times one launch of p: spawn to the first successful Get.
func startup(p *candidate, autoMTLS bool) (int64, error) {
	t := time.Now()
	l, err := launch(p, autoMTLS, true)
	defer l.stop()
	if err != nil {
		return 0, err
	}
	resp, err := l.kv.Get(context.Background(), &proto.GetRequest{Key: "startup"})
	if err != nil {
		return 0, err
	}
	ns := time.Since(t).Nanoseconds()
	if string(resp.GetValue()) != "ready" {
		return 0, fmt.Errorf("Get(startup) returned %q, not \"ready\"", resp.GetValue())
	}
	return ns, nil
}

// session measures one fresh plugin: round trips, then its resident memory.
func session(p *candidate, autoMTLS bool, o options) (measure.Summary, Resident, error) {
	l, err := launch(p, autoMTLS, false)
	defer l.stop()
	if err != nil {
		return measure.Summary{}, Resident{}, err
	}
	ctx := context.Background()
	value := measure.Payload(o.size)
	if _, err := l.kv.Put(ctx, &proto.PutRequest{Key: "bench", Value: value}); err != nil {
		return measure.Summary{}, Resident{}, fmt.Errorf("Put: %w", err)
	}
	get := func() error {
		resp, err := l.kv.Get(ctx, &proto.GetRequest{Key: "bench"})
		if err != nil {
			return fmt.Errorf("Get: %w", err)
		}
		if !bytes.Equal(resp.GetValue(), value) {
			return fmt.Errorf("Get returned %d bytes that differ from the %d stored", len(resp.GetValue()), len(value))
		}
		return nil
	}
	for i := 0; i < o.warmup; i++ {
		if err := get(); err != nil {
			return measure.Summary{}, Resident{}, err
		}
	}
	durs := make([]int64, o.calls)
	start := time.Now()
	for i := range durs {
		t := time.Now()
		if err := get(); err != nil {
			return measure.Summary{}, Resident{}, err
		}
		durs[i] = time.Since(t).Nanoseconds()
	}
	summary := measure.Summarize(durs, o.size, 1, time.Since(start))
	for made := o.warmup + o.calls; made < o.memoryCalls; made++ {
		if err := get(); err != nil {
			return measure.Summary{}, Resident{}, err
		}
	}
	rc := l.client.ReattachConfig()
	if rc == nil || rc.Pid == 0 {
		return measure.Summary{}, Resident{}, errors.New("the plugin's pid is unknown: cannot read its memory")
	}
	resident, err := readResident(rc.Pid)
	return summary, resident, err
}

// readResident reads VmRSS and VmHWM of process pid.
func readResident(pid int) (Resident, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return Resident{}, err
	}
	field := func(name string) (int64, error) {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, name); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					return strconv.ParseInt(f[0], 10, 64)
				}
			}
		}
		return 0, fmt.Errorf("no %s line in %s", name, path)
	}
	var r Resident
	if r.VmRSSKB, err = field("VmRSS:"); err != nil {
		return r, err
	}
	r.VmHWMKB, err = field("VmHWM:")
	return r, err
}
