// Package measure holds what the benchmarking hosts share: the payload they
// store or send, the summary of timed calls they print, summarised as
// plugin-bench summarises its own (nearest-rank percentiles), and, for the
// hosts of plugin-bench's own services, the launch of the plugin.
package measure

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"gofixtures/internal/shared"
)

// Payload is the value of size bytes the benchmarks send: byte i = i mod 251.
func Payload(size int) []byte {
	value := make([]byte, size)
	for i := range value {
		value[i] = byte(i % 251)
	}
	return value
}

// Percentile returns the nearest-rank percentile of sorted durations.
func Percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted))*p/100.0)) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return sorted[rank]
}

// Summary is the JSON line a benchmark prints.
type Summary struct {
	Calls       int     `json:"calls"`
	Size        int     `json:"size"`
	Concurrency int     `json:"concurrency"`
	P50         int64   `json:"p50_ns"`
	P99         int64   `json:"p99_ns"`
	Mean        int64   `json:"mean_ns"`
	CallsPerSec float64 `json:"calls_per_sec"`
}

// Summarize sorts durs (per-call durations, ns; at least one) and
// summarises them, wall being the wall time of the whole timed phase.
func Summarize(durs []int64, size, concurrency int, wall time.Duration) Summary {
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	var sum int64
	for _, d := range durs {
		sum += d
	}
	return Summary{
		Calls:       len(durs),
		Size:        size,
		Concurrency: concurrency,
		P50:         Percentile(durs, 50),
		P99:         Percentile(durs, 99),
		Mean:        sum / int64(len(durs)),
		CallsPerSec: float64(len(durs)) / wall.Seconds(),
	}
}

// Launch starts the plugin executable path directly (no shell, in its own
// process group), with AutoMTLS when autoMTLS, the benchmarks' handshake and
// plugins, gRPC only, logging as name; and dispenses pluginName. stop kills
// the client and the plugin's whole process group; call it whatever happened.
func Launch(name, path string, autoMTLS bool, plugins plugin.PluginSet, pluginName string) (raw interface{}, stop func(), err error) {
	cmd := exec.Command(path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  shared.Handshake,
		Plugins:          plugins,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         autoMTLS,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:       name,
			Level:      hclog.Info,
			Output:     os.Stderr,
			JSONFormat: true,
		}),
	})
	stop = func() {
		client.Kill()
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	rpc, err := client.Client()
	if err == nil {
		raw, err = rpc.Dispense(pluginName)
	}
	return raw, stop, err
}

// Print writes summary as one line of JSON on stdout, or on failure (of the
// measurement, err, or of the printing) says why on stderr and exits 1.
func Print(summary Summary, err error) {
	if err == nil {
		var line []byte
		if line, err = json.Marshal(summary); err == nil {
			_, err = os.Stdout.Write(append(line, '\n'))
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
