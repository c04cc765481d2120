package projections

import (
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/operators"
	"pgregory.net/rapid"
)

// Every batch the Cassandra store issues holds writes of one partition
// and stays under the size limit; every write is issued exactly once.
func TestPlanBatchesProperty(t *testing.T) {
	spec := operators.Table("p").PartitionKey("account").Typed("account", operators.TypeText).
		ClusteringKey("seq").Typed("seq", operators.TypeBigInt).
		Column("payload", "payload", operators.TypeBlob).
		Column("tags", "tags", operators.TypeTextList).
		Column("amount", "amount", operators.TypeDecimal)
	cols := columnsOf(spec)
	var s Cassandra
	table := s.newTable("p_v1", cols)
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 200).Draw(rt, "writes")
		writes := make([]Write, n)
		for i := range writes {
			w := Write{
				Key:     []any{rapid.SampledFrom([]string{"a", "b", "c", "dddddddddddddddddddddddd"}).Draw(rt, "account"), rapid.Int64().Draw(rt, "seq")},
				Version: rapid.Int64().Draw(rt, "version"),
				Delete:  rapid.IntRange(0, 5).Draw(rt, "kind") == 0,
				Row: map[string]any{
					"payload": make([]byte, rapid.IntRange(0, 6000).Draw(rt, "payload")),
					"tags":    rapid.SliceOfN(rapid.StringN(0, 50, -1), 0, 5).Draw(rt, "tags"),
					"amount":  big.NewRat(rapid.Int64().Draw(rt, "num"), 1<<rapid.IntRange(0, 20).Draw(rt, "exp")),
				},
			}
			writes[i] = w
		}
		bound, plan, err := table.bind(writes)
		if err != nil {
			rt.Fatal(err)
		}
		groups := planBatches(plan, maxBatchBytes)
		seen := make([]int, n)
		for _, g := range groups {
			if len(g) == 0 {
				rt.Fatal("empty group")
			}
			size := batchOverhead
			for _, i := range g {
				seen[i]++
				size += plan[i].size
				if bound[i].args[len(bound[i].args)-1] != writes[i].Version && bound[i].args[0] != writes[i].Version {
					rt.Fatalf("write %d is not stamped with its version", i)
				}
				if writes[i].Key[0] != writes[g[0]].Key[0] {
					rt.Fatalf("batch mixes partitions %v and %v", writes[i].Key[0], writes[g[0]].Key[0])
				}
			}
			if len(g) > 1 && size >= maxBatchBytes {
				rt.Fatalf("batch of %d writes is %d bytes, limit %d", len(g), size, maxBatchBytes)
			}
		}
		for i, c := range seen {
			if c != 1 {
				rt.Fatalf("write %d planned %d times", i, c)
			}
		}
	})
}

// statementSize counts the protocol encoding of each value exactly.
func TestCQLSize(t *testing.T) {
	for _, tc := range []struct {
		typ  operators.ColumnType
		v    any
		want int
	}{
		{operators.TypeText, "héllo", 6},
		{operators.TypeBigInt, int64(1), 8},
		{operators.TypeInt, int32(1), 4},
		{operators.TypeDouble, 1.5, 8},
		{operators.TypeBoolean, true, 1},
		{operators.TypeTimestamp, time.Unix(0, 0), 8},
		{operators.TypeBlob, []byte{1, 2, 3}, 3},
		{operators.TypeUUID, "0f8fad5b-d9cb-469f-a165-70867728950e", 16},
		{operators.TypeDecimal, big.NewRat(12345, 100), 4 + 2}, // 12345 = 0x3039
		{operators.TypeDecimal, big.NewRat(-128, 1), 4 + 1},
		{operators.TypeDecimal, big.NewRat(128, 1), 4 + 2},
		{operators.TypeTextList, []string{"a", "bc"}, 4 + 5 + 6},
		{operators.TypeTextMap, map[string]string{"k": "vv"}, 4 + 4 + 1 + 4 + 2},
		{operators.TypeText, nil, 0},
	} {
		if got := cqlSize(tc.typ, tc.v); got != tc.want {
			t.Errorf("cqlSize(%s, %v) = %d, want %d", tc.typ, tc.v, got, tc.want)
		}
	}
	for _, n := range []int64{0, 1, -1, 127, 128, -128, -129, 255, 256, -32768, 1 << 40} {
		b := twosComplement(big.NewInt(n))
		back := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			back.Sub(back, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		if back.Int64() != n || (len(b) > 1 && (b[0] == 0 && b[1]&0x80 == 0 || b[0] == 0xff && b[1]&0x80 != 0)) {
			t.Errorf("twosComplement(%d) = %x", n, b)
		}
	}
	if !slices.Equal(twosComplement(big.NewInt(-1)), []byte{0xff}) {
		t.Errorf("twosComplement(-1) = %x", twosComplement(big.NewInt(-1)))
	}
}
