// Command go-bench-stream-plugin is go-plugin's plugin of plugin-bench's
// stream throughput: it serves bench.Transfer (plugin "transfer", handshake
// BASIC_PLUGIN=hello, protocol 1). Download streams the items the host asks
// for; Upload compares every item the host sends with the payload of its
// size and counts them. See ../../README.md.
package main

import (
	"bytes"
	"io"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gofixtures/internal/measure"
	"gofixtures/internal/shared"
	"gofixtures/internal/transfer"
	"gofixtures/proto/bench"
)

// server implements bench.Transfer.
type server struct {
	bench.UnimplementedTransferServer
}

func (server) Download(req *bench.DownloadRequest, stream bench.Transfer_DownloadServer) error {
	chunk := &bench.Chunk{Data: measure.Payload(int(req.GetSize()))}
	for i := uint32(0); i < req.GetItems(); i++ {
		if err := stream.Send(chunk); err != nil {
			return err
		}
	}
	return nil
}

func (server) Upload(stream bench.Transfer_UploadServer) error {
	var items, total uint64
	var expected []byte
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&bench.UploadReply{Items: items, Bytes: total})
		}
		if err != nil {
			return err
		}
		data := chunk.GetData()
		if len(data) != len(expected) {
			expected = measure.Payload(len(data))
		}
		if !bytes.Equal(data, expected) {
			return status.Errorf(codes.InvalidArgument, "item %d: its bytes are not the payload", items)
		}
		items++
		total += uint64(len(data))
	}
}

func main() {
	shared.ServeBench("go-bench-stream-plugin", plugin.PluginSet{transfer.PluginName: &transfer.Plugin{Impl: server{}}})
}
