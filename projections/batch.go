package projections

import (
	"math/big"

	"github.com/reckon-dev/reckon/operators"
)

// maxBatchBytes bounds the bound-value bytes of an unlogged batch. Batches
// of one partition below it are applied by the coordinator as one
// mutation and stay under Cassandra's default batch_size_warn_threshold
// (5 KiB).
const maxBatchBytes = 5 * 1024

// Sizes, in the protocol v4 BATCH frame, around the bound values.
const (
	// batchOverhead: type (1), statement count (2), consistency (2),
	// flags (1), default timestamp (8).
	batchOverhead = 14
	// statementOverhead: kind (1), prepared id ([short bytes], 2+16),
	// value count (2).
	statementOverhead = 21
	// valueOverhead: the [bytes] length prefix of each value.
	valueOverhead = 4
)

// plannedWrite is what the batch planner knows of one write.
type plannedWrite struct {
	// partition is the encoded partition key.
	partition string
	// size is the statement's size in a BATCH frame.
	size int
}

// planBatches groups writes (by index) into statements the Cassandra
// store issues: a group of several writes becomes one UNLOGGED batch,
// whose writes all share one partition key and whose frame bytes stay
// below limit; a group of one write is issued as a single statement.
// Partitions keep the order of their first write, writes their order.
func planBatches(writes []plannedWrite, limit int) [][]int {
	var order []string
	byPartition := map[string][]int{}
	for i, w := range writes {
		if _, seen := byPartition[w.partition]; !seen {
			order = append(order, w.partition)
		}
		byPartition[w.partition] = append(byPartition[w.partition], i)
	}
	var groups [][]int
	for _, p := range order {
		var cur []int
		size := batchOverhead
		for _, i := range byPartition[p] {
			if len(cur) > 0 && size+writes[i].size >= limit {
				groups = append(groups, cur)
				cur, size = nil, batchOverhead
			}
			cur = append(cur, i)
			size += writes[i].size
		}
		groups = append(groups, cur)
	}
	return groups
}

// statementSize is the size of a statement binding values (normalized
// values of the columns cols, see normalize) plus its write timestamp.
func statementSize(cols []Column, values []any) int {
	n := statementOverhead + valueOverhead + 8 // USING TIMESTAMP ?
	for i, c := range cols {
		n += valueOverhead + cqlSize(c.Type, values[i])
	}
	return n
}

// cqlSize is the length of the protocol encoding of a normalized value.
func cqlSize(t operators.ColumnType, v any) int {
	if v == nil {
		return 0
	}
	switch t {
	case operators.TypeText:
		return len(v.(string))
	case operators.TypeBigInt, operators.TypeDouble, operators.TypeTimestamp:
		return 8
	case operators.TypeInt:
		return 4
	case operators.TypeBoolean:
		return 1
	case operators.TypeBlob:
		return len(v.([]byte))
	case operators.TypeUUID:
		return 16
	case operators.TypeDecimal:
		return 4 + len(twosComplement(decimalUnscaled(v.(*big.Rat))))
	case operators.TypeTextList:
		n := 4
		for _, s := range v.([]string) {
			n += 4 + len(s)
		}
		return n
	case operators.TypeTextMap:
		n := 4
		for k, s := range v.(map[string]string) {
			n += 8 + len(k) + len(s)
		}
		return n
	}
	return 0
}

// decimalUnscaled returns the unscaled integer of r's exact decimal
// expansion (r = unscaled / 10^scale, see decimalScale).
func decimalUnscaled(r *big.Rat) *big.Int {
	scale, _ := decimalScale(r)
	n := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	n.Mul(n, r.Num())
	return n.Quo(n, r.Denom())
}

// twosComplement encodes n as Cassandra's varint: big-endian two's
// complement in the fewest bytes.
func twosComplement(n *big.Int) []byte {
	switch n.Sign() {
	case 0:
		return []byte{0}
	case 1:
		b := n.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 has the complement bits of n.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}
