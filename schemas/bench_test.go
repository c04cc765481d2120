package schemas

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPaymentDecode decodes and resolves the reference payment record
// (writer payment-v1, reader payment-v2) through a warmed-up Decoder, and
// in the same run decodes the same body with goavro's plain
// NativeFromBinary (no framing, no resolution). It reports both costs per
// record, their ratio (the bar is 1.5) and the SchemaSource calls per
// record after warm-up (must be 0). ns/op and allocs/op count one batch of
// both.
func BenchmarkPaymentDecode(b *testing.B) {
	v1, v2 := paymentSchema(b, "v1"), paymentSchema(b, "v2")
	src := &mapSource{schemas: map[int]*Schema{1: v1}}
	dec, err := NewDecoder(src, v2)
	if err != nil {
		b.Fatal(err)
	}
	body := paymentV1Body(b)
	framed := AppendFrame(nil, 1, body)
	ctx := context.Background()
	if _, _, err := dec.Decode(ctx, "payments", 0, 0, framed); err != nil {
		b.Fatal(err)
	}
	warm := src.calls.Load()
	codec := v1.codec
	// Each iteration decodes a batch both ways, alternating, so that both
	// see the same machine, caches and garbage collector.
	const batch = 64
	var reckon, plain time.Duration
	var n int
	for b.Loop() {
		start := time.Now()
		for range batch {
			if _, _, err := dec.Decode(ctx, "payments", 0, int64(n), framed); err != nil {
				b.Fatal(err)
			}
			n++
		}
		mid := time.Now()
		for range batch {
			if _, _, err := codec.NativeFromBinary(body); err != nil {
				b.Fatal(err)
			}
		}
		reckon += mid.Sub(start)
		plain += time.Since(mid)
	}
	b.ReportMetric(float64(reckon.Nanoseconds())/float64(n), "ns/record")
	b.ReportMetric(float64(plain.Nanoseconds())/float64(n), "goavro-ns/record")
	b.ReportMetric(float64(reckon)/float64(plain), "overhead-x")
	b.ReportMetric(float64(src.calls.Load()-warm)/float64(n), "source-calls/record")
}
