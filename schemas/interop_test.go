package schemas

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/reckon-dev/reckon/internal/testenv"
	"github.com/riferrei/srclient"
)

const (
	paymentV1           = "../examples/payments/schemas/payment-v1.avsc"
	paymentV2           = "../examples/payments/schemas/payment-v2.avsc"
	paymentIncompatible = "testdata/payment-incompatible.avsc"
)

func readSchema(t *testing.T, path string) *Schema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(b))
}

// runTool runs cmd and returns its standard output, failing the test with
// its standard error if it fails.
func runTool(t *testing.T, cmd *exec.Cmd) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	return out
}

// srclient, the library Client wraps, used directly: the calls Client does
// not make (compatibility tests, levels, deletes, ids to subjects) work
// against the embedded registry too.
func TestInteropSrclient(t *testing.T) {
	_, base := newTestRegistry(t, WithBasicAuth("reckon", "s3cret"))
	sr := srclient.NewSchemaRegistryClient(base)
	sr.SetCredentials("reckon", "s3cret")
	sr.CachingEnabled(false)
	v1 := readSchema(t, paymentV1).String()
	v2 := readSchema(t, paymentV2).String()
	bad := readSchema(t, paymentIncompatible).String()

	s1, err := sr.CreateSchema("payments-value", v1, srclient.Avro)
	if err != nil || s1.ID() != 1 {
		t.Fatalf("CreateSchema v1 = %v, %v", s1, err)
	}
	if ok, err := sr.IsSchemaCompatible("payments-value", v2, "latest", srclient.Avro); err != nil || !ok {
		t.Errorf("IsSchemaCompatible v2 = %v, %v", ok, err)
	}
	if ok, err := sr.IsSchemaCompatible("payments-value", bad, "1", srclient.Avro); err != nil || ok {
		t.Errorf("IsSchemaCompatible incompatible = %v, %v", ok, err)
	}
	_, err = sr.CreateSchema("payments-value", bad, srclient.Avro)
	if se, ok := err.(srclient.Error); !ok || se.Code != 409 {
		t.Errorf("CreateSchema incompatible = %v, want error code 409", err)
	}
	s2, err := sr.CreateSchema("payments-value", v2, srclient.Avro)
	if err != nil || s2.ID() != 2 {
		t.Fatalf("CreateSchema v2 = %v, %v", s2, err)
	}
	if s, err := sr.LookupSchema("payments-value", v1, srclient.Avro); err != nil || s.ID() != 1 || s.Version() != 1 {
		t.Errorf("LookupSchema v1 = %v, %v", s, err)
	}
	if s, err := sr.GetLatestSchema("payments-value"); err != nil || s.ID() != 2 || s.Version() != 2 || s.Schema() != v2 {
		t.Errorf("GetLatestSchema = %v, %v", s, err)
	}
	if s, err := sr.GetSchema(1); err != nil || s.Schema() != v1 || s.Codec() == nil {
		t.Errorf("GetSchema 1 = %v, %v", s, err)
	}
	if _, err := sr.CreateSchema("copy-value", v1, srclient.Avro); err != nil {
		t.Fatal(err)
	}
	pairs, err := sr.GetSubjectVersionsById(1)
	if err != nil || len(pairs) != 2 {
		t.Errorf("GetSubjectVersionsById 1 = %v, %v", pairs, err)
	}
	if l, err := sr.GetGlobalCompatibilityLevel(); err != nil || *l != srclient.Backward {
		t.Errorf("GetGlobalCompatibilityLevel = %v, %v", l, err)
	}
	if l, err := sr.ChangeSubjectCompatibilityLevel("copy-value", srclient.FullTransitive); err != nil || *l != srclient.FullTransitive {
		t.Errorf("ChangeSubjectCompatibilityLevel = %v, %v", l, err)
	}
	if l, err := sr.GetCompatibilityLevel("copy-value", false); err != nil || *l != srclient.FullTransitive {
		t.Errorf("GetCompatibilityLevel copy-value = %v, %v", l, err)
	}
	if l, err := sr.GetCompatibilityLevel("payments-value", true); err != nil || *l != srclient.Backward {
		t.Errorf("GetCompatibilityLevel payments-value, default to global = %v, %v", l, err)
	}
	if l, err := sr.DeleteSubjectCompatibilityLevel("copy-value"); err != nil || *l != srclient.FullTransitive {
		t.Errorf("DeleteSubjectCompatibilityLevel = %v, %v", l, err)
	}
	if err := sr.DeleteSubjectByVersion("payments-value", 2, true); err != nil {
		t.Errorf("DeleteSubjectByVersion permanent: %v", err)
	}
	if vs, err := sr.GetSchemaVersions("payments-value"); err != nil || !reflect.DeepEqual(vs, []int{1}) {
		t.Errorf("GetSchemaVersions after delete = %v, %v", vs, err)
	}
	if err := sr.DeleteSubject("copy-value", false); err != nil {
		t.Errorf("DeleteSubject: %v", err)
	}
	if subjects, err := sr.GetSubjectsIncludingDeleted(); err != nil || len(subjects) != 2 {
		t.Errorf("GetSubjectsIncludingDeleted = %v, %v", subjects, err)
	}
	if subjects, err := sr.GetSubjects(); err != nil || !reflect.DeepEqual(subjects, []string{"payments-value"}) {
		t.Errorf("GetSubjects = %v, %v", subjects, err)
	}
	_, err = sr.GetSchema(99)
	if se, ok := err.(srclient.Error); !ok || se.Code != 40403 {
		t.Errorf("GetSchema 99 = %v, want error code 40403", err)
	}
}

// Confluent's Python client (python3-confluent-kafka) against the embedded
// registry; a payment written by the reference Avro implementation
// (python3-avro) with writer v1 is read by reckon's Decoder as v2.
func TestInteropConfluentPython(t *testing.T) {
	python := testenv.Python(t, "avro", "confluent_kafka", "requests")
	_, base := newTestRegistry(t, WithBasicAuth("reckon", "s3cret"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := runTool(t, exec.CommandContext(ctx, python, "testdata/confluent_interop.py", base, "reckon:s3cret",
		paymentV1, paymentV2, paymentIncompatible))
	var got struct {
		ID1, ID2 int
		Framed   []byte
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	if got.ID1 != 1 || got.ID2 != 2 {
		t.Errorf("ids %d, %d; want 1, 2", got.ID1, got.ID2)
	}

	c := newTestClient(t, base, WithBasicAuth("reckon", "s3cret"))
	h, err := c.History(ctx, "payments-value")
	if err != nil || len(h) != 2 || h[0].ID != got.ID1 || h[1].ID != got.ID2 {
		t.Errorf("History after the Python client = %+v, %v", h, err)
	}
	dec, err := NewDecoder(c, readSchema(t, paymentV2))
	if err != nil {
		t.Fatal(err)
	}
	value, id, err := dec.Decode(ctx, "payments", 0, 7, got.Framed)
	if err != nil || id != got.ID1 {
		t.Fatalf("Decode = %v, id %d, %v", value, id, err)
	}
	want := map[string]any{
		"payment_id":   "p-1",
		"merchant_id":  "m-9",
		"amount_minor": int64(123456789012),
		"currency":     "EUR",
		"status":       "REFUNDED",
		"created_at":   time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC),
		"customer_id":  map[string]any{"string": "c-7"}, // customer_ref, by alias
		"channel":      "WEB",                           // the reader's default
		"risk_score":   nil,
	}
	if !reflect.DeepEqual(value, want) {
		t.Errorf("decoded\n  %#v\nwant\n  %#v", value, want)
	}
}

// The Node client @kafkajs/confluent-schema-registry (Avro by avsc)
// registers a schema and encodes a payment that reckon decodes; reckon
// encodes one that it decodes.
func TestInteropNode(t *testing.T) {
	node := testenv.Tool(t, "node")
	dir := "testdata/node"
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@kafkajs", "confluent-schema-registry")); err != nil {
		testenv.Missing(t, "the npm packages of schemas/testdata/node (npm ci there)")
	}
	_, base := newTestRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	// Node → reckon: written with v1 by avsc, read as v2 by reckon.
	cmd := exec.CommandContext(ctx, node, "interop.js", "encode", base, "payments-value", abs(paymentV1),
		`{"payment_id":"p-1","merchant_id":"m-9","amount_minor":123456789012,"currency":"EUR","status":"CAPTURED",`+
			`"created_at":1704164645678,"customer_ref":"c-7"}`)
	cmd.Dir = dir
	var enc struct {
		ID     int
		Framed []byte
	}
	if err := json.Unmarshal(runTool(t, cmd), &enc); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, base)
	dec, err := NewDecoder(c, readSchema(t, paymentV2))
	if err != nil {
		t.Fatal(err)
	}
	value, id, err := dec.Decode(ctx, "payments", 1, 42, enc.Framed)
	if err != nil || id != enc.ID {
		t.Fatalf("Decode = %v, id %d (node registered %d), %v", value, id, enc.ID, err)
	}
	want := map[string]any{
		"payment_id": "p-1", "merchant_id": "m-9", "amount_minor": int64(123456789012), "currency": "EUR",
		"status": "CAPTURED", "created_at": time.UnixMilli(1704164645678).UTC(),
		"customer_id": map[string]any{"string": "c-7"}, "channel": "WEB", "risk_score": nil,
	}
	if !reflect.DeepEqual(value, want) {
		t.Errorf("decoded\n  %#v\nwant\n  %#v", value, want)
	}

	// reckon → Node: written with v2 by reckon, read by avsc with the
	// writer schema it fetches by id.
	v2 := readSchema(t, paymentV2)
	id2, err := c.Register(ctx, "payments-value", v2)
	if err != nil {
		t.Fatal(err)
	}
	body, err := v2.AppendBinary(nil, map[string]any{
		"payment_id": "p-2", "merchant_id": "m-9", "amount_minor": int64(-5), "currency": "USD",
		"status": "DISPUTED", "created_at": time.UnixMilli(1704164645999).UTC(),
		"customer_id": map[string]any{"string": "c-8"}, "channel": "POS",
		"risk_score": map[string]any{"double": 0.25},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.CommandContext(ctx, node, "interop.js", "decode", base,
		base64.StdEncoding.EncodeToString(AppendFrame(nil, id2, body)))
	cmd.Dir = dir
	var back map[string]any
	if err := json.Unmarshal(runTool(t, cmd), &back); err != nil {
		t.Fatal(err)
	}
	wantBack := map[string]any{
		"payment_id": "p-2", "merchant_id": "m-9", "amount_minor": -5.0, "currency": "USD",
		"status": "DISPUTED", "created_at": 1704164645999.0, "customer_id": "c-8", "channel": "POS",
		"risk_score": 0.25,
	}
	if !reflect.DeepEqual(back, wantBack) {
		t.Errorf("node decoded\n  %#v\nwant\n  %#v", back, wantBack)
	}
}
