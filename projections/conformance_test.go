package projections

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/operators"
	"pgregory.net/rapid"
)

// The conformance suite: every Store passes it. storeSuite runs it against
// the store open returns; open is called once per subtest and the store is
// closed by the subtest. Projection names carry a random suffix so that the
// suite can run repeatedly against a real cluster whose keyspace persists.
func storeSuite(t *testing.T, open func(t *testing.T) Store) {
	t.Run("TypesRoundTrip", func(t *testing.T) { testTypesRoundTrip(t, open(t)) })
	t.Run("PositionalWrites", func(t *testing.T) { testPositionalWrites(t, open(t)) })
	t.Run("KeyTypes", func(t *testing.T) { testKeyTypes(t, open(t)) })
	t.Run("IdempotentRedelivery", func(t *testing.T) { testRedelivery(t, open(t)) })
	t.Run("OutOfOrder", func(t *testing.T) { testOutOfOrder(t, open(t)) })
	t.Run("DeleteRecreate", func(t *testing.T) { testDeleteRecreate(t, open(t)) })
	t.Run("BadValueWritesNothing", func(t *testing.T) { testBadValue(t, open(t)) })
	t.Run("Convergence", func(t *testing.T) { testConvergence(t, open(t)) })
	t.Run("Catalog", func(t *testing.T) { testCatalog(t, open(t)) })
	t.Run("Migration", func(t *testing.T) { testMigration(t, open(t)) })
	t.Run("PromoteRollback", func(t *testing.T) { testPromoteRollback(t, open(t)) })
	t.Run("ConcurrentPromote", func(t *testing.T) { testConcurrentPromote(t, open(t)) })
	t.Run("SinkCoalescing", func(t *testing.T) { testSinkCoalescing(t, open(t)) })
	t.Run("SinkLifecycle", func(t *testing.T) { testSinkLifecycle(t, open(t)) })
	t.Run("Diff", func(t *testing.T) { testDiff(t, open(t)) })
}

func uniqueName(t *testing.T, base string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base + "_" + hex.EncodeToString(b)
}

func testGraph(v int) Graph {
	return Graph{Name: "payments", Version: v, Fingerprint: fmt.Sprintf("fp-%d", v)}
}

// everyTypeSpec has a value column of every column type.
func everyTypeSpec(name string) *operators.TableSpec {
	return operators.Table(name).PartitionKey("id").Typed("id", operators.TypeText).
		Column("c_text", "c_text", operators.TypeText).
		Column("c_bigint", "c_bigint", operators.TypeBigInt).
		Column("c_int", "c_int", operators.TypeInt).
		Column("c_double", "c_double", operators.TypeDouble).
		Column("c_boolean", "c_boolean", operators.TypeBoolean).
		Column("c_timestamp", "c_timestamp", operators.TypeTimestamp).
		Column("c_blob", "c_blob", operators.TypeBlob).
		Column("c_decimal", "c_decimal", operators.TypeDecimal).
		Column("c_uuid", "c_uuid", operators.TypeUUID).
		Column("c_list", "c_list", operators.TypeTextList).
		Column("c_map", "c_map", operators.TypeTextMap)
}

// paymentSpec is shaped like the payments example's payment_status table.
func paymentSpec(name string) *operators.TableSpec {
	return operators.Table(name).PartitionKey("payment_id").Typed("payment_id", operators.TypeText).
		Column("merchant_id", "merchant_id", operators.TypeText).
		Column("amount_minor", "amount_minor", operators.TypeBigInt).
		Column("currency", "currency", operators.TypeText).
		Column("status", "status", operators.TypeText).
		Column("created_at", "created_at", operators.TypeTimestamp).
		Column("booked_at", "booked_at", operators.TypeTimestamp)
}

func create(t *testing.T, s Store, spec *operators.TableSpec, v int) string {
	t.Helper()
	info, err := s.Create(context.Background(), spec, testGraph(v))
	if err != nil {
		t.Fatalf("Create %s v%d: %v", spec.Name, v, err)
	}
	return info.Table
}

func apply(t *testing.T, s Store, table string, ws ...Write) {
	t.Helper()
	if err := s.Apply(context.Background(), table, ws); err != nil {
		t.Fatalf("Apply %s: %v", table, err)
	}
}

func get(t *testing.T, s Store, table string, key ...any) (Row, bool) {
	t.Helper()
	r, ok, err := s.Get(context.Background(), table, key)
	if err != nil {
		t.Fatalf("Get %s %v: %v", table, key, err)
	}
	return r, ok
}

func scanAll(t *testing.T, s Store, table string) []Row {
	t.Helper()
	var rows []Row
	if err := s.Scan(context.Background(), table, func(r Row) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("Scan %s: %v", table, err)
	}
	return rows
}

func payment(id string, v int64, status string) Write {
	return Write{Key: []any{id}, Version: v, Row: map[string]any{
		"payment_id": id, "merchant_id": "m-" + id, "amount_minor": v * 100, "currency": "EUR",
		"status": status, "created_at": time.UnixMilli(1700000000000 + v).UTC(),
	}}
}

func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case *big.Rat:
		y, ok := b.(*big.Rat)
		return ok && x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}

// diffRow describes how got differs from want (every column of want,
// absent columns meaning null), or returns "".
func diffRow(got Row, want map[string]any, cols []string) string {
	for _, c := range cols {
		if !valuesEqual(got[c], want[c]) {
			return fmt.Sprintf("column %s = %#v (%T), want %#v (%T)", c, got[c], got[c], want[c], want[c])
		}
	}
	return ""
}

func columnNames(spec *operators.TableSpec) []string {
	var out []string
	for _, c := range spec.AllColumns() {
		out = append(out, c.Name)
	}
	return out
}

func testTypesRoundTrip(t *testing.T, s Store) {
	spec := everyTypeSpec(uniqueName(t, "types"))
	table := create(t, s, spec, 1)
	full := map[string]any{
		"id": "full", "c_text": "héllo 🌍", "c_bigint": int64(-1 << 62), "c_int": int32(-7),
		"c_double": 3.25, "c_boolean": true, "c_timestamp": time.Date(2024, 2, 29, 23, 59, 58, 123_000_000, time.UTC),
		"c_blob": []byte{0, 1, 2, 255}, "c_decimal": big.NewRat(-123456789, 1000),
		"c_uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "c_list": []string{"b", "a", "b"},
		"c_map": map[string]string{"k": "v", "": "empty key"},
	}
	nulls := map[string]any{"id": "nulls"}
	// Values are normalized: sub-millisecond times are truncated, upper-case
	// UUIDs lowered, narrower Go integers widened, empty collections null.
	loose := map[string]any{
		"id": "loose", "c_bigint": 5, "c_int": int64(6), "c_timestamp": time.Date(2024, 1, 1, 0, 0, 0, 1_999_999, time.FixedZone("X", 3600)),
		"c_uuid": "0F8FAD5B-D9CB-469F-A165-70867728950E", "c_list": []string{}, "c_map": map[string]string{}, "c_blob": []byte{},
		"c_decimal": big.NewRat(1, 8), "c_text": "",
	}
	looseWant := map[string]any{
		"id": "loose", "c_bigint": int64(5), "c_int": int32(6), "c_timestamp": time.Date(2023, 12, 31, 23, 0, 0, 1_000_000, time.UTC),
		"c_uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "c_blob": []byte{}, "c_decimal": big.NewRat(125, 1000), "c_text": "",
	}
	apply(t, s, table, Write{Key: []any{"full"}, Row: full, Version: 1}, Write{Key: []any{"nulls"}, Row: nulls, Version: 1},
		Write{Key: []any{"loose"}, Row: loose, Version: 1})
	cols := columnNames(spec)
	for _, want := range []map[string]any{full, nulls, looseWant} {
		got, ok := get(t, s, table, want["id"])
		if !ok {
			t.Fatalf("row %v missing", want["id"])
		}
		if d := diffRow(got, want, cols); d != "" {
			t.Errorf("row %v: %s", want["id"], d)
		}
		if len(got) != len(cols) {
			t.Errorf("row %v has %d columns, want %d", want["id"], len(got), len(cols))
		}
	}
	if rows := scanAll(t, s, table); len(rows) != 3 {
		t.Errorf("scan returned %d rows, want 3", len(rows))
	}
}

// A positional write (Columns and Values) stores what the same row given
// by name stores, whatever the order of Columns; columns it leaves out, and
// columns the table does not have, are as absent from Row.
func testPositionalWrites(t *testing.T, s Store) {
	spec := everyTypeSpec(uniqueName(t, "positional"))
	byName, positional := create(t, s, spec, 1), create(t, s, spec, 2)
	row := map[string]any{
		"id": "r", "c_text": "héllo", "c_bigint": int64(-5), "c_int": int32(7), "c_double": 0.5, "c_boolean": true,
		"c_timestamp": time.Date(2024, 2, 29, 23, 59, 58, 123_000_000, time.UTC), "c_decimal": big.NewRat(3, 4),
		"c_list": []string{"x"}, "c_map": map[string]string{"k": "v"},
	}
	// Reversed, without c_blob and c_uuid, with a column the table lacks.
	var names []string
	var vals []any
	for _, c := range slices.Backward(columnNames(spec)) {
		if c != "c_blob" && c != "c_uuid" {
			names, vals = append(names, c), append(vals, row[c])
		}
	}
	names, vals = append(names, "not_a_column"), append(vals, "ignored")
	for v := int64(1); v <= 2; v++ { // twice: the second write uses the cached positions
		row["c_bigint"], vals[slices.Index(names, "c_bigint")] = v, v
		apply(t, s, byName, Write{Key: []any{"r"}, Row: row, Version: v})
		apply(t, s, positional, Write{Key: []any{"r"}, Columns: names, Values: vals, Version: v})
	}
	want, ok := get(t, s, byName, "r")
	if !ok {
		t.Fatal("row written by name is missing")
	}
	got, ok := get(t, s, positional, "r")
	if !ok {
		t.Fatal("row written positionally is missing")
	}
	if d := diffRow(got, want, columnNames(spec)); d != "" {
		t.Errorf("positional row differs from the row by name: %s", d)
	}
	if got["c_bigint"] != int64(2) || got["c_blob"] != nil {
		t.Errorf("positional row %v: want c_bigint 2 and no c_blob", got)
	}
}

func testKeyTypes(t *testing.T, s Store) {
	spec := operators.Table(uniqueName(t, "keys")).PartitionKey("account", "n").ClusteringKey("at", "u", "amount", "flag").
		Typed("account", operators.TypeText).Typed("n", operators.TypeBigInt).Typed("at", operators.TypeTimestamp).
		Typed("u", operators.TypeUUID).Typed("amount", operators.TypeDecimal).Typed("flag", operators.TypeBoolean).
		Column("note", "note", operators.TypeText)
	table := create(t, s, spec, 1)
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	k1 := []any{"acc", int64(1), at, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", big.NewRat(15, 10), true}
	k2 := []any{"acc", int64(1), at.Add(time.Millisecond), "6ba7b810-9dad-11d1-80b4-00c04fd430c8", big.NewRat(15, 10), true}
	k3 := []any{"acc", int64(2), at, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", big.NewRat(3, 2), false}
	for i, k := range [][]any{k1, k2, k3} {
		apply(t, s, table, Write{Key: k, Row: map[string]any{"note": fmt.Sprint(i)}, Version: 1})
	}
	for i, k := range [][]any{k1, k2, k3} {
		r, ok := get(t, s, table, k...)
		if !ok {
			t.Fatalf("key %d missing", i)
		}
		if r["note"] != fmt.Sprint(i) || !valuesEqual(r["at"], k[2]) || !valuesEqual(r["amount"], k[4]) || r["flag"] != k[5] {
			t.Errorf("key %d: got %v", i, r)
		}
	}
	if _, ok := get(t, s, table, "acc", int64(3), at, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", big.NewRat(3, 2), false); ok {
		t.Error("Get of an absent key found a row")
	}
	if n := len(scanAll(t, s, table)); n != 3 {
		t.Errorf("scan: %d rows, want 3", n)
	}
}

func testRedelivery(t *testing.T, s Store) {
	spec := paymentSpec(uniqueName(t, "redeliver"))
	table := create(t, s, spec, 1)
	batch := []Write{payment("p1", 1, "AUTHORIZED"), payment("p2", 1, "AUTHORIZED"), payment("p1", 2, "CAPTURED")}
	apply(t, s, table, batch...)
	apply(t, s, table, batch...)
	apply(t, s, table, batch[2])
	rows := scanAll(t, s, table)
	if len(rows) != 2 {
		t.Fatalf("after redelivery: %d rows, want 2", len(rows))
	}
	r, _ := get(t, s, table, "p1")
	if d := diffRow(r, payment("p1", 2, "CAPTURED").Row, columnNames(spec)); d != "" {
		t.Error(d)
	}
}

func testOutOfOrder(t *testing.T, s Store) {
	spec := paymentSpec(uniqueName(t, "order"))
	table := create(t, s, spec, 1)
	apply(t, s, table, payment("p1", 5, "REFUNDED"))
	apply(t, s, table, payment("p1", 3, "CAPTURED"), payment("p1", 1, "AUTHORIZED"))
	r, _ := get(t, s, table, "p1")
	if r["status"] != "REFUNDED" || r["amount_minor"] != int64(500) {
		t.Errorf("older writes overwrote a newer one: %v", r)
	}
	// Within one call too, whatever the order.
	apply(t, s, table, payment("p2", 9, "CAPTURED"), payment("p2", 2, "AUTHORIZED"))
	if r, _ := get(t, s, table, "p2"); r["status"] != "CAPTURED" {
		t.Errorf("p2: %v", r)
	}
}

func testDeleteRecreate(t *testing.T, s Store) {
	spec := paymentSpec(uniqueName(t, "delete"))
	table := create(t, s, spec, 1)
	del := func(id string, v int64) Write { return Write{Key: []any{id}, Delete: true, Version: v} }
	apply(t, s, table, payment("p1", 1, "AUTHORIZED"))
	apply(t, s, table, del("p1", 2))
	if _, ok := get(t, s, table, "p1"); ok {
		t.Fatal("row visible after a newer delete")
	}
	apply(t, s, table, payment("p1", 1, "AUTHORIZED"))
	if _, ok := get(t, s, table, "p1"); ok {
		t.Fatal("an older upsert replayed after a delete brought the row back")
	}
	apply(t, s, table, payment("p1", 2, "AUTHORIZED"))
	if _, ok := get(t, s, table, "p1"); ok {
		t.Fatal("an upsert at the delete's version won the tie; the delete must")
	}
	apply(t, s, table, payment("p1", 3, "CAPTURED"))
	r, ok := get(t, s, table, "p1")
	if !ok || r["status"] != "CAPTURED" {
		t.Fatalf("a newer upsert did not recreate the row: %v %v", r, ok)
	}
	apply(t, s, table, del("p1", 1))
	if _, ok := get(t, s, table, "p1"); !ok {
		t.Fatal("an older delete removed a newer row")
	}
	apply(t, s, table, del("p2", 7))
	if n := len(scanAll(t, s, table)); n != 1 {
		t.Errorf("scan: %d rows, want 1 (deleted rows are not scanned)", n)
	}
}

func testBadValue(t *testing.T, s Store) {
	spec := paymentSpec(uniqueName(t, "bad"))
	table := create(t, s, spec, 1)
	bad := payment("p2", 1, "X")
	bad.Row["amount_minor"] = "12.00"
	err := s.Apply(context.Background(), table, []Write{payment("p1", 1, "A"), bad, payment("p3", 1, "A")})
	var ve *ValueError
	if !errors.As(err, &ve) || !errors.Is(err, ErrValue) || ve.Column != "amount_minor" || ve.Table != table {
		t.Fatalf("Apply with a bad value: %v, want a *ValueError for %s.amount_minor", err, table)
	}
	if n := len(scanAll(t, s, table)); n != 0 {
		t.Errorf("%d rows written by a failed Apply", n)
	}
	err = s.Apply(context.Background(), table, []Write{{Key: []any{nil}, Version: 1}})
	if !errors.As(err, &ve) {
		t.Errorf("null key: %v", err)
	}
	err = s.Apply(context.Background(), "nope_v1", []Write{payment("p1", 1, "A")})
	if !errors.Is(err, ErrUnknownTable) {
		t.Errorf("unknown table: %v", err)
	}
}

type modelWrite struct {
	Key     int
	Version int64
	Delete  bool
}

// testConvergence: any permutation, duplication and batching of a set of
// versioned writes leaves the max-version state (a delete winning ties).
func testConvergence(t *testing.T, s Store) {
	spec := paymentSpec(uniqueName(t, "converge"))
	table := create(t, s, spec, 1)
	iteration := 0
	rapid.Check(t, func(rt *rapid.T) {
		iteration++
		prefix := fmt.Sprintf("i%d-", iteration)
		writes := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) modelWrite {
			return modelWrite{Key: rapid.IntRange(0, 4).Draw(rt, "key"), Version: rapid.Int64Range(1, 6).Draw(rt, "version"),
				Delete: rapid.IntRange(0, 3).Draw(rt, "kind") == 0}
		}), 1, 20).Draw(rt, "writes")
		// Deliver every write at least once, some twice, in any order.
		deliveries := slices.Clone(writes)
		for _, w := range writes {
			if rapid.Bool().Draw(rt, "dup") {
				deliveries = append(deliveries, w)
			}
		}
		order := rapid.Permutation(deliveries).Draw(rt, "order")
		var pending []Write
		flush := func() {
			if len(pending) > 0 {
				if err := s.Apply(context.Background(), table, pending); err != nil {
					rt.Fatalf("Apply: %v", err)
				}
				pending = nil
			}
		}
		for _, w := range order {
			id := prefix + fmt.Sprint(w.Key)
			if w.Delete {
				pending = append(pending, Write{Key: []any{id}, Delete: true, Version: w.Version})
			} else {
				pending = append(pending, payment(id, w.Version, fmt.Sprint("S", w.Version)))
			}
			if rapid.IntRange(0, 3).Draw(rt, "cut") == 0 {
				flush()
			}
		}
		flush()
		// The model: per key, the write with the highest version; a delete wins a tie.
		final := map[int]modelWrite{}
		for _, w := range writes {
			old, seen := final[w.Key]
			if !seen || w.Version > old.Version || (w.Version == old.Version && w.Delete) {
				final[w.Key] = w
			}
		}
		for k := range 5 {
			id := prefix + fmt.Sprint(k)
			r, ok, err := s.Get(context.Background(), table, []any{id})
			if err != nil {
				rt.Fatal(err)
			}
			w, written := final[k]
			switch {
			case !written || w.Delete:
				if ok {
					rt.Fatalf("key %d: row %v, want none (model %+v)", k, r, w)
				}
			case !ok:
				rt.Fatalf("key %d: no row, want version %d", k, w.Version)
			case r["status"] != fmt.Sprint("S", w.Version) || r["amount_minor"] != w.Version*100:
				rt.Fatalf("key %d: row %v, want version %d", k, r, w.Version)
			}
		}
	})
}

func testCatalog(t *testing.T, s Store) {
	ctx := context.Background()
	name := uniqueName(t, "catalog")
	spec := paymentSpec(name)
	info, err := s.Create(ctx, spec, testGraph(3))
	if err != nil {
		t.Fatal(err)
	}
	if info.Table != name+"_v3" || info.Status != StatusBuilding || info.GraphName != "payments" || info.Fingerprint != "fp-3" || len(info.Columns) != 7 {
		t.Errorf("Create: %+v", info)
	}
	// Creating again (a restarted backfill) keeps the version.
	if _, err := s.Create(ctx, spec, testGraph(3)); err != nil {
		t.Fatalf("Create again: %v", err)
	}
	_, err = s.Create(ctx, spec, Graph{Name: "payments", Version: 3, Fingerprint: "changed"})
	var ve *VersionError
	if !errors.Is(err, ErrFingerprint) || !errors.As(err, &ve) || ve.Version != 3 || ve.Projection != name {
		t.Errorf("Create with another fingerprint: %v", err)
	}
	apply(t, s, info.Table, payment("a", 1, "X"), payment("b", 1, "X"), payment("c", 1, "X"), Write{Key: []any{"c"}, Delete: true, Version: 2})
	src := SourceRange{
		Offsets: []PartitionRange{{Topic: "payments", Partition: 0, First: 0, Last: 41}, {Topic: "payments", Partition: 1, First: 5, Last: 9}},
		From:    time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC),
	}
	ready, err := s.MarkReady(ctx, name, 3, src)
	if err != nil {
		t.Fatal(err)
	}
	if ready.Status != StatusReady || ready.Rows != 2 || !reflect.DeepEqual(ready.Source, src) {
		t.Errorf("MarkReady: %+v", ready)
	}
	if _, err := s.MarkReady(ctx, name, 4, src); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("MarkReady of an unknown version: %v", err)
	}
	vs, err := s.Versions(ctx, name)
	if err != nil || len(vs) != 1 {
		t.Fatalf("Versions: %v %v", vs, err)
	}
	if got := vs[0]; got.Status != StatusReady || got.Rows != 2 || !reflect.DeepEqual(got.Source, src) || got.Created.IsZero() || got.Updated.Before(got.Created) {
		t.Errorf("Versions: %+v", got)
	}
	if _, _, err := s.Resolve(ctx, name); !errors.Is(err, ErrNoLive) {
		t.Errorf("Resolve before any promote: %v", err)
	}
}

func testMigration(t *testing.T, s Store) {
	ctx := context.Background()
	name := uniqueName(t, "migrate")
	table := create(t, s, paymentSpec(name), 1)
	apply(t, s, table, payment("p1", 1, "A"))
	wider := paymentSpec(name).Column("region", "region", operators.TypeText)
	info, err := s.Create(ctx, wider, testGraph(1))
	if err != nil {
		t.Fatalf("adding a column: %v", err)
	}
	if len(info.Columns) != 8 {
		t.Errorf("columns after migration: %v", info.Columns)
	}
	w := payment("p2", 1, "A")
	w.Row["region"] = "eu"
	apply(t, s, table, w)
	if r, _ := get(t, s, table, "p2"); r["region"] != "eu" {
		t.Errorf("new column not stored: %v", r)
	}
	if r, _ := get(t, s, table, "p1"); r["region"] != nil || r["status"] != "A" {
		t.Errorf("old row after migration: %v", r)
	}
	retyped := paymentSpec(name).Typed("amount_minor", operators.TypeText)
	if _, err := s.Create(ctx, retyped, testGraph(1)); !errors.Is(err, ErrSchema) {
		t.Errorf("retyping a column: %v, want ErrSchema", err)
	}
	rekeyed := paymentSpec(name).ClusteringKey("seq").Typed("seq", operators.TypeInt)
	if _, err := s.Create(ctx, rekeyed, testGraph(1)); !errors.Is(err, ErrSchema) {
		t.Errorf("changing the key: %v, want ErrSchema", err)
	}
}

func statusOf(t *testing.T, s Store, name string) map[int]Status {
	t.Helper()
	vs, err := s.Versions(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]Status{}
	for _, v := range vs {
		out[v.Version] = v.Status
	}
	return out
}

func testPromoteRollback(t *testing.T, s Store) {
	ctx := context.Background()
	name := uniqueName(t, "promote")
	for v := 1; v <= 3; v++ {
		table := create(t, s, paymentSpec(name), v)
		apply(t, s, table, payment("p", int64(v), fmt.Sprint("v", v)))
	}
	var se *StatusError
	if err := s.Promote(ctx, name, 1); !errors.As(err, &se) || !errors.Is(err, ErrStatus) || se.Status != StatusBuilding || se.Version != 1 {
		t.Fatalf("promoting a building version: %v", err)
	}
	if err := s.Promote(ctx, name, 9); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("promoting an unknown version: %v", err)
	}
	if _, err := s.Rollback(ctx, name); !errors.Is(err, ErrNoLive) {
		t.Errorf("rollback with nothing live: %v", err)
	}
	for v := 1; v <= 3; v++ {
		if _, err := s.MarkReady(ctx, name, v, SourceRange{}); err != nil {
			t.Fatal(err)
		}
	}
	resolve := func() int {
		t.Helper()
		table, v, err := s.Resolve(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if table != TableName(name, v) {
			t.Fatalf("Resolve: table %s for version %d", table, v)
		}
		r, ok := get(t, s, table, "p")
		if !ok || r["status"] != fmt.Sprint("v", v) {
			t.Fatalf("the live table's row: %v", r)
		}
		return v
	}
	if err := s.Promote(ctx, name, 1); err != nil {
		t.Fatal(err)
	}
	if v := resolve(); v != 1 {
		t.Fatalf("live %d after promoting 1", v)
	}
	if err := s.Promote(ctx, name, 2); err != nil {
		t.Fatal(err)
	}
	if got, want := statusOf(t, s, name), map[int]Status{1: StatusRetired, 2: StatusLive, 3: StatusReady}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if err := s.Promote(ctx, name, 2); !errors.As(err, &se) || se.Status != StatusLive {
		t.Errorf("promoting the live version: %v", err)
	}
	if err := s.Promote(ctx, name, 1); !errors.As(err, &se) || se.Status != StatusRetired {
		t.Errorf("promoting a retired version: %v", err)
	}
	if _, err := s.MarkReady(ctx, name, 2, SourceRange{}); !errors.As(err, &se) || se.Status != StatusLive {
		t.Errorf("marking the live version ready: %v", err)
	}
	if err := s.Promote(ctx, name, 3); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{2, 1} {
		v, err := s.Rollback(ctx, name)
		if err != nil || v != want {
			t.Fatalf("Rollback: %d %v, want %d", v, err, want)
		}
		if got := resolve(); got != want {
			t.Fatalf("live %d after rollback, want %d", got, want)
		}
	}
	if got, want := statusOf(t, s, name), map[int]Status{1: StatusLive, 2: StatusRetired, 3: StatusRetired}; !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if _, err := s.Rollback(ctx, name); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("rollback past the first version: %v", err)
	}
}

func testConcurrentPromote(t *testing.T, s Store) {
	ctx := context.Background()
	name := uniqueName(t, "race")
	const versions = 4
	for v := 1; v <= versions; v++ {
		create(t, s, paymentSpec(name), v)
		if _, err := s.MarkReady(ctx, name, v, SourceRange{}); err != nil {
			t.Fatal(err)
		}
	}
	// Many promotes of one version: exactly one wins, the others learn it is live.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Promote(ctx, name, 1) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		var se *StatusError
		switch {
		case err == nil:
			wins++
		case errors.As(err, &se) && se.Status == StatusLive:
		default:
			t.Errorf("concurrent promote: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent promotes of one version won, want exactly 1", wins)
	}
	// Promotes of different versions are serialized: each applies once,
	// and rollbacks walk back through all of them.
	for v := 2; v <= versions; v++ {
		wg.Go(func() {
			if err := s.Promote(ctx, name, v); err != nil {
				t.Errorf("promote %d: %v", v, err)
			}
		})
	}
	wg.Wait()
	st := statusOf(t, s, name)
	live := 0
	for v, status := range st {
		switch status {
		case StatusLive:
			live++
		case StatusRetired:
		default:
			t.Errorf("v%d is %s after every version was promoted", v, status)
		}
	}
	if live != 1 {
		t.Fatalf("%d live versions: %v", live, st)
	}
	seen := map[int]bool{}
	for range versions - 1 {
		v, err := s.Rollback(ctx, name)
		if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		if seen[v] {
			t.Fatalf("rollback returned to v%d twice", v)
		}
		seen[v] = true
	}
	if _, _, err := s.Resolve(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rollback(ctx, name); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("history longer than the promotes: %v", err)
	}
}

// countingStore counts the writes that reach Apply.
type countingStore struct {
	Store
	mu     sync.Mutex
	writes int
	calls  int
}

func (c *countingStore) Apply(ctx context.Context, table string, ws []Write) error {
	c.mu.Lock()
	c.writes += len(ws)
	c.calls++
	c.mu.Unlock()
	return c.Store.Apply(ctx, table, ws)
}

// paymentColumns are the columns of paymentSpec, shared as a graph's
// outputs share theirs.
var paymentColumns = columnNames(paymentSpec("payments"))

func paymentOutput(table, id string, v int64, status string) operators.Output {
	w := payment(id, v, status)
	key, _ := operators.EncodeKey(w.Key)
	vals := make([]any, len(paymentColumns))
	for i, c := range paymentColumns {
		vals[i] = w.Row[c]
	}
	return operators.Output{Target: operators.TargetTable, Name: table, Kind: operators.Upsert, Key: key, KeyValues: w.Key,
		Columns: paymentColumns, Values: vals, Version: v}
}

func testSinkCoalescing(t *testing.T, s Store) {
	ctx := context.Background()
	name := uniqueName(t, "coalesce")
	spec := paymentSpec(name)
	const keys = 50
	// Each key updated three times, out of order, in small Write calls.
	var outs []operators.Output
	for _, v := range []int64{2, 1, 3} {
		for k := range keys {
			outs = append(outs, paymentOutput(name, fmt.Sprint("p", k), v, fmt.Sprint("S", v)))
		}
	}
	for _, tc := range []struct {
		coalesce bool
		version  int
		want     int
	}{{true, 1, keys}, {false, 2, 3 * keys}} {
		counter := &countingStore{Store: s}
		sink, err := NewSink(ctx, counter, testGraph(tc.version), []*operators.TableSpec{spec}, WithCoalescing(tc.coalesce))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(outs); i += 7 {
			if err := sink.Write(ctx, outs[i:min(i+7, len(outs))]); err != nil {
				t.Fatal(err)
			}
		}
		if counter.writes != 0 {
			t.Errorf("Write applied %d writes before Flush", counter.writes)
		}
		if err := sink.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if counter.writes != tc.want {
			t.Errorf("coalescing %v: %d writes reached the store, want %d", tc.coalesce, counter.writes, tc.want)
		}
		table := TableName(name, tc.version)
		rows := scanAll(t, s, table)
		if len(rows) != keys {
			t.Fatalf("%d rows, want %d", len(rows), keys)
		}
		for _, r := range rows {
			if r["status"] != "S3" {
				t.Fatalf("coalescing %v: row %v is not the newest write", tc.coalesce, r)
			}
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// A delete coalesces with upserts by the same rule.
	sink, err := NewSink(ctx, s, testGraph(1), []*operators.TableSpec{spec})
	if err != nil {
		t.Fatal(err)
	}
	del := paymentOutput(name, "p0", 4, "")
	del.Kind, del.Values = operators.Delete, nil
	if err := sink.Write(ctx, []operators.Output{paymentOutput(name, "p0", 5, "S5"), del, paymentOutput(name, "p1", 4, "S4"), paymentOutput(name, "p1", 4, "S4")}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	table := TableName(name, 1)
	if r, _ := get(t, s, table, "p0"); r["status"] != "S5" {
		t.Errorf("p0: %v, want the version-5 upsert over the version-4 delete", r)
	}
	if r, _ := get(t, s, table, "p1"); r["status"] != "S4" {
		t.Errorf("p1: %v", r)
	}
}

func testSinkLifecycle(t *testing.T, s Store) {
	ctx := context.Background()
	name := uniqueName(t, "sink")
	spec := paymentSpec(name)
	counter := &countingStore{Store: s}
	sink, err := NewSink(ctx, counter, testGraph(1), []*operators.TableSpec{spec}, WithMaxPending(10))
	if err != nil {
		t.Fatal(err)
	}
	var sinkIface operators.Sink = sink
	if _, ok := sinkIface.(operators.Flusher); !ok {
		t.Fatal("Sink does not implement operators.Flusher")
	}
	// Other targets are not this sink's; unknown tables are errors.
	other := operators.Output{Target: operators.TargetTopic, Name: "mismatches", Kind: operators.Upsert, Key: "k"}
	if err := sink.Write(ctx, []operators.Output{other}); err != nil {
		t.Errorf("topic output: %v", err)
	}
	unknown := paymentOutput("elsewhere", "p", 1, "A")
	if err := sink.Write(ctx, []operators.Output{unknown}); !errors.Is(err, ErrUnknownTable) {
		t.Errorf("unknown table: %v", err)
	}
	// The buffer bound flushes from Write.
	var outs []operators.Output
	for k := range 12 {
		outs = append(outs, paymentOutput(name, fmt.Sprint("p", k), 1, "A"))
	}
	if err := sink.Write(ctx, outs); err != nil {
		t.Fatal(err)
	}
	if counter.writes != 12 {
		t.Errorf("after exceeding WithMaxPending: %d writes applied, want 12", counter.writes)
	}
	if err := sink.Write(ctx, []operators.Output{paymentOutput(name, "last", 1, "A")}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, s, TableName(name, 1), "last"); !ok {
		t.Error("Close did not flush")
	}
	if err := sink.Write(ctx, outs); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if _, err := NewSink(ctx, s, testGraph(1), []*operators.TableSpec{spec}, WithMaxPending(0)); !errors.Is(err, ErrConfig) {
		t.Errorf("WithMaxPending(0): %v", err)
	}
}

func testDiff(t *testing.T, s Store) {
	ctx := context.Background()
	name := uniqueName(t, "diff")
	v1 := create(t, s, paymentSpec(name), 1)
	v2 := create(t, s, paymentSpec(name).Column("region", "region", operators.TypeText), 2)
	apply(t, s, v1, payment("a", 1, "A"), payment("b", 1, "A"), payment("c", 1, "A"), payment("d", 1, "A"))
	changed := payment("c", 1, "B")
	changed.Row["region"] = "eu"
	apply(t, s, v2, payment("b", 1, "A"), changed, payment("e", 1, "A"), payment("f", 1, "A"))
	rep, err := Diff(ctx, s, name, 1, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := &DiffReport{
		Projection: name, From: 1, To: 2, FromRows: 4, ToRows: 4, Added: 2, Removed: 2, Changed: 1, Unchanged: 1,
		ColumnsAdded: []string{"region"}, AddedKeys: []string{"e"}, RemovedKeys: []string{"a"},
		ChangedRows: []RowChange{{Key: "c", Columns: []ColumnChange{{Column: "region", From: "null", To: "eu"}, {Column: "status", From: "A", To: "B"}}}},
	}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("Diff:\n got %+v\nwant %+v", rep, want)
	}
	if _, err := Diff(ctx, s, name, 1, 7, 1); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("Diff with an unknown version: %v", err)
	}
}
