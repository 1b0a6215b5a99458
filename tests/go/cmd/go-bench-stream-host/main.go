// Command go-bench-stream-host is go-plugin's host of plugin-bench's stream
// throughput. It launches the plugin (the executable itself, no shell),
// dispenses its bench.Transfer, streams -warmup items untimed, then -items
// timed items of -size bytes, plugin -> host (-direction download: server
// streaming, every item compared with the payload) or host -> plugin
// (-direction upload: client streaming, the plugin compares every item and
// its count is checked). It prints one JSON line, the shape of go-kv-host's
// bench: the "calls" are the items, each timed from the previous one (the
// first from the call's start), and calls_per_sec is items per second of the
// whole timed stream. See ../../README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"

	"gofixtures/internal/measure"
	"gofixtures/internal/transfer"
	"gofixtures/proto/bench"
)

type options struct {
	plugin    string
	autoMTLS  bool
	direction string
	items     int
	size      int
	warmup    int
}

func main() {
	var o options
	flag.StringVar(&o.plugin, "plugin", "", "the plugin executable (required; launched directly, no shell)")
	flag.BoolVar(&o.autoMTLS, "automtls", false, "enable AutoMTLS")
	flag.StringVar(&o.direction, "direction", "download", "download (plugin -> host) or upload (host -> plugin)")
	flag.IntVar(&o.items, "items", 1024, "number of timed items")
	flag.IntVar(&o.size, "size", 64*1024, "bytes of each item")
	flag.IntVar(&o.warmup, "warmup", 64, "untimed items streamed first")
	flag.Parse()
	if o.plugin == "" || flag.NArg() != 0 || o.items < 1 || o.size < 0 || o.warmup < 0 ||
		(o.direction != "download" && o.direction != "upload") {
		fmt.Fprintln(os.Stderr, "go-bench-stream-host: need -plugin PATH, -direction download|upload, -items >= 1, -size >= 0, -warmup >= 0 and no extra arguments")
		flag.Usage()
		os.Exit(2)
	}
	measure.Print(run(o))
}

// run starts the plugin, measures, and always kills the plugin.
func run(o options) (measure.Summary, error) {
	raw, stop, err := measure.Launch("go-bench-stream-host", o.plugin, o.autoMTLS,
		plugin.PluginSet{transfer.PluginName: &transfer.Plugin{}}, transfer.PluginName)
	defer stop()
	if err != nil {
		return measure.Summary{}, err
	}
	client, ok := raw.(bench.TransferClient)
	if !ok {
		return measure.Summary{}, fmt.Errorf("dispensed %T, want bench.TransferClient", raw)
	}
	stream := download
	if o.direction == "upload" {
		stream = upload
	}
	payload := measure.Payload(o.size)
	ctx := context.Background()
	if o.warmup > 0 {
		if err := stream(ctx, client, payload, make([]int64, o.warmup)); err != nil {
			return measure.Summary{}, err
		}
	}
	durs := make([]int64, o.items)
	start := time.Now()
	if err := stream(ctx, client, payload, durs); err != nil {
		return measure.Summary{}, err
	}
	return measure.Summarize(durs, o.size, 1, time.Since(start)), nil
}

// download streams len(durs) items of payload's size from the plugin,
// compares each with payload and times each into durs.
func download(ctx context.Context, client bench.TransferClient, payload []byte, durs []int64) error {
	t := time.Now()
	stream, err := client.Download(ctx, &bench.DownloadRequest{Items: uint32(len(durs)), Size: uint32(len(payload))})
	if err != nil {
		return fmt.Errorf("Download: %w", err)
	}
	for i := range durs {
		chunk, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("Download, item %d: %w", i, err)
		}
		if !bytes.Equal(chunk.GetData(), payload) {
			return fmt.Errorf("Download, item %d: its bytes are not the payload", i)
		}
		now := time.Now()
		durs[i] = now.Sub(t).Nanoseconds()
		t = now
	}
	if _, err := stream.Recv(); err != io.EOF {
		return fmt.Errorf("Download: no end of stream after %d items (%v)", len(durs), err)
	}
	return nil
}

// upload streams len(durs) items of payload to the plugin, timing each send
// into durs, and checks the plugin's count.
func upload(ctx context.Context, client bench.TransferClient, payload []byte, durs []int64) error {
	t := time.Now()
	stream, err := client.Upload(ctx)
	if err != nil {
		return fmt.Errorf("Upload: %w", err)
	}
	chunk := &bench.Chunk{Data: payload}
	for i := range durs {
		if err := stream.Send(chunk); err != nil {
			return fmt.Errorf("Upload, item %d: %w", i, err)
		}
		now := time.Now()
		durs[i] = now.Sub(t).Nanoseconds()
		t = now
	}
	reply, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("Upload: %w", err)
	}
	if reply.GetItems() != uint64(len(durs)) || reply.GetBytes() != uint64(len(durs)*len(payload)) {
		return errors.New("Upload: the plugin counted other items than were sent")
	}
	return nil
}
