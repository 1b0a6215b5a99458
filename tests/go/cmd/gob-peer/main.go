// Command gob-peer is the Go side of the gob and net/rpc interop tests
// (tests/tests/e2e/gob.rs). It uses only Go's standard library.
//
//	gob-peer write CASE   writes CASE's value twice, as one gob stream, to stdout
//	gob-peer read CASE    reads two values of CASE's type from stdin and compares
//	                      each with CASE's value (exit status 1 and a message if not)
//	gob-peer rpc-server   serves the Plugin service with net/rpc on stdin/stdout
//	gob-peer rpc-client   calls Plugin.Put, Plugin.Get and Plugin.Fail with an
//	                      rpc.Client on stdout/stdin and checks the replies
//	gob-peer cases        prints the case names, one a line
package main

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math"
	"net/rpc"
	"os"
	"reflect"
)

type Inner struct {
	A int
	B string
}

type Outer struct {
	Name  string
	Count int64
	Ratio float64
	Flag  bool
	Data  []byte
	In    Inner
	List  []Inner
	Tags  map[string]int
	Ptr   *Inner
	Nil   *Inner
	Zero  int
	Words []string
	Fixed [3]int32
	Small uint8
}

type Node struct {
	Val  int
	Next *Node
}

type Specials struct {
	PosInf  float64
	NegInf  float64
	NaN     float64
	NegZero float64
	Tiny    float64
	F32Inf  float32
	F32Max  float32
	F32NaN  float32
}

// cases are the values both sides agree on; gob.rs mirrors them in Rust.
var cases = map[string]any{
	"bool":    true,
	"int8":    int8(-128),
	"int16":   int16(-300),
	"int32":   int32(-70000),
	"int64":   int64(math.MinInt64),
	"int":     -1,
	"uint8":   uint8(200),
	"uint16":  uint16(65535),
	"uint32":  uint32(4000000000),
	"uint64":  uint64(math.MaxUint64),
	"float32": float32(1.5),
	"float64": -17.25,
	"specials": Specials{
		PosInf: math.Inf(1), NegInf: math.Inf(-1), NaN: math.NaN(),
		NegZero: math.Copysign(0, -1), Tiny: 5e-324,
		F32Inf: float32(math.Inf(1)), F32Max: math.MaxFloat32, F32NaN: float32(math.NaN()),
	},
	"string":    "héllo, gob ✓",
	"bytes":     []byte{0, 1, 2, 255},
	"ints":      []int{1, -2, 3},
	"strings":   []string{"a", "", "c"},
	"array":     [3]int32{1, -2, 3},
	"bytearray": [4]byte{1, 2, 3, 250},
	"map":       map[string]int{"a": 1, "b": -2},
	"nested_map": map[string][]Inner{
		"x": {{A: 1, B: "a"}, {A: 2}},
		"y": nil,
	},
	"outer": Outer{
		Name: "outer", Count: -5, Ratio: 0.25, Flag: true, Data: []byte("data"),
		In:    Inner{A: 7, B: "in"},
		List:  []Inner{{A: 1, B: "one"}, {A: 0, B: ""}, {A: -3}},
		Tags:  map[string]int{"t": 1},
		Ptr:   &Inner{A: 9, B: "ptr"},
		Words: []string{"w"}, Fixed: [3]int32{4, 5, 6}, Small: 255,
	},
	"zeros":        Outer{Name: "z"},
	"node":         &Node{Val: 1, Next: &Node{Val: 2, Next: &Node{Val: -3}}},
	"iface":        map[string]interface{}{"key": "k", "value": []byte("v")},
	"empty_struct": struct{}{},
	"iface_all": map[string]interface{}{
		"int": -1, "int8": int8(-2), "int16": int16(-3), "int32": int32(-4), "int64": int64(-5),
		"uint": uint(1), "uint8": uint8(2), "uint16": uint16(3), "uint32": uint32(4), "uint64": uint64(5),
		"uintptr": uintptr(6), "float32": float32(0.5), "float64": 2.5, "bool": true,
		"string": "s", "bytes": []byte{1, 2}, "ints": []int{1, -2}, "strings": []string{"x", "y"},
		"float64s": []float64{1.5}, "bools": []bool{true, false}, "uint16s": []uint16{7},
		"nil": nil,
	},
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: gob-peer write|read CASE | rpc-server | rpc-client | cases")
	}
	switch os.Args[1] {
	case "cases":
		for name := range cases {
			fmt.Println(name)
		}
	case "write":
		v := caseValue()
		enc := gob.NewEncoder(os.Stdout)
		for i := 0; i < 2; i++ {
			if err := enc.Encode(v); err != nil {
				fail("encoding %s: %v", os.Args[2], err)
			}
		}
	case "read":
		want := caseValue()
		dec := gob.NewDecoder(os.Stdin)
		for i := 0; i < 2; i++ {
			got := reflect.New(reflect.TypeOf(want))
			if err := dec.Decode(got.Interface()); err != nil {
				fail("decoding value %d of %s: %v", i, os.Args[2], err)
			}
			if !same(got.Elem().Interface(), want) {
				fail("value %d of %s: got %#v, want %#v", i, os.Args[2], got.Elem().Interface(), want)
			}
		}
		var extra any
		if err := dec.Decode(&extra); err != io.EOF {
			fail("after two values of %s: want EOF, got %v", os.Args[2], err)
		}
		fmt.Println("ok")
	case "rpc-server":
		if err := rpc.Register(&Plugin{store: map[string][]byte{}}); err != nil {
			fail("register: %v", err)
		}
		rpc.ServeConn(stdio{})
	case "rpc-client":
		rpcClient()
	default:
		fail("unknown mode %q", os.Args[1])
	}
}

func caseValue() any {
	if len(os.Args) < 3 {
		fail("missing case name")
	}
	v, ok := cases[os.Args[2]]
	if !ok {
		fail("unknown case %q", os.Args[2])
	}
	return v
}

// same is reflect.DeepEqual, except that NaNs equal NaNs (Specials).
func same(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	sa, ok1 := a.(Specials)
	sb, ok2 := b.(Specials)
	if !ok1 || !ok2 || !math.IsNaN(sa.NaN) || !math.IsNaN(sb.NaN) ||
		!math.IsNaN(float64(sa.F32NaN)) || !math.IsNaN(float64(sb.F32NaN)) {
		return false
	}
	sa.NaN, sb.NaN, sa.F32NaN, sb.F32NaN = 0, 0, 0, 0
	return reflect.DeepEqual(sa, sb) // -0 == 0: Go itself drops the sign of a zero field
}

// Plugin is go-plugin's net/rpc KV example service, kept in memory.
type Plugin struct{ store map[string][]byte }

func (p *Plugin) Put(args map[string]interface{}, resp *interface{}) error {
	key, ok1 := args["key"].(string)
	value, ok2 := args["value"].([]byte)
	if !ok1 || !ok2 {
		return fmt.Errorf("Put: want a string key and []byte value, got %#v", args)
	}
	p.store[key] = value
	return nil
}

func (p *Plugin) Get(key string, resp *[]byte) error {
	v, ok := p.store[key]
	if !ok {
		return fmt.Errorf("no key %q", key)
	}
	*resp = v
	return nil
}

func (p *Plugin) Fail(args string, resp *string) error {
	return errors.New("boom: " + args)
}

func rpcClient() {
	client := rpc.NewClient(stdio{})
	defer client.Close()
	var resp interface{}
	args := map[string]interface{}{"key": "k", "value": []byte("v")}
	if err := client.Call("Plugin.Put", args, &resp); err != nil || resp != nil {
		fail("Put: err %v, reply %#v", err, resp)
	}
	var got []byte
	if err := client.Call("Plugin.Get", "k", &got); err != nil || string(got) != "v" {
		fail("Get: err %v, reply %q", err, got)
	}
	var s string
	if err := client.Call("Plugin.Fail", "x", &s); err == nil || err.Error() != "boom: x" {
		fail("Fail: want error \"boom: x\", got %v", err)
	}
	fmt.Fprintln(os.Stderr, "rpc-client: ok")
}

// stdio is a connection made of stdin and stdout.
type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error                { return nil }

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gob-peer: "+format+"\n", args...)
	os.Exit(1)
}
