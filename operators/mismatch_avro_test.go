package operators_test

import (
	"bytes"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/reckon-dev/reckon/operators"
	"github.com/reckon-dev/reckon/schemas"
)

// AppendAvro writes, for any state, exactly the bytes an Avro library
// writes for its native form with MismatchSchema.
func TestMismatchAppendAvroMatchesCodec(t *testing.T) {
	schema, err := schemas.Parse(operators.MismatchSchema)
	if err != nil {
		t.Fatal(err)
	}
	text := rapid.StringMatching(`[a-zA-Zé0-9_@/ -]{0,12}`)
	optText := func(t *rapid.T, label string) *string {
		if rapid.Bool().Draw(t, label+"?") {
			return nil
		}
		s := text.Draw(t, label)
		return &s
	}
	// Event times within ±200 years of the epoch, to the nanosecond.
	when := rapid.Custom(func(t *rapid.T) time.Time {
		return time.Unix(0, rapid.Int64Range(-200*365*24*int64(time.Hour), 200*365*24*int64(time.Hour)).Draw(t, "ns")).UTC()
	})
	sources := func(t *rapid.T, label string) []operators.Provenance {
		return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) operators.Provenance {
			return operators.Provenance{Topic: text.Draw(t, "topic"), Partition: rapid.Int32().Draw(t, "partition"),
				Offset: rapid.Int64().Draw(t, "offset"), Time: when.Draw(t, "time")}
		}), 0, 3).Draw(t, label)
	}
	rapid.Check(t, func(t *rapid.T) {
		m := &operators.Mismatch{
			Key: text.Draw(t, "key"), Graph: text.Draw(t, "graph"), GraphVersion: rapid.IntRange(0, 1<<31-1).Draw(t, "version"),
			Reconciler: text.Draw(t, "reconciler"), Status: operators.MismatchStatus(rapid.IntRange(1, 2).Draw(t, "status")),
			Left: sources(t, "left"), Right: sources(t, "right"), EventTime: when.Draw(t, "event_time"),
		}
		copy(m.ID[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "id"))
		for range rapid.IntRange(0, 3).Draw(t, "reasons") {
			m.Reasons = append(m.Reasons, operators.Reason{
				Kind:  operators.ReasonKind(rapid.IntRange(int(operators.MissingLeft), int(operators.LateEvent)).Draw(t, "kind")),
				Field: text.Draw(t, "field"), Left: optText(t, "left_value"), Right: optText(t, "right_value"),
				Detail: text.Draw(t, "detail")})
		}
		want, err := schema.AppendBinary(nil, m.Native())
		if err != nil {
			t.Fatalf("codec: %v", err)
		}
		if got := m.AppendAvro([]byte{0xff}); !bytes.Equal(got[1:], want) || got[0] != 0xff {
			t.Fatalf("AppendAvro\n got %x\nwant %x", got[1:], want)
		}
	})
}
