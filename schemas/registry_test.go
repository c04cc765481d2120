package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	avscA1 = `{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"}]}`
	// avscA1Spaced is avscA1 with other spacing and key order: the same
	// schema to the registry.
	avscA1Spaced = "{\n  \"name\": \"A\", \"type\": \"record\",\n  \"fields\": [ {\"type\": \"string\", \"name\": \"x\"} ], \"namespace\": \"t\"\n}"
	// avscA2 adds a field with a default: BACKWARD compatible with A1.
	avscA2 = `{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"},{"name":"y","type":"long","default":0}]}`
	// avscA3 adds a field without a default: it cannot read A1 or A2 data.
	avscA3 = `{"type":"record","name":"A","namespace":"t","fields":[{"name":"x","type":"string"},{"name":"z","type":"int"}]}`
	avscB  = `{"type":"record","name":"B","namespace":"t","fields":[{"name":"n","type":"int"}]}`
)

// schemaBody is a register, lookup or compatibility request body.
func schemaBody(avsc string) string {
	b, _ := json.Marshal(map[string]string{"schema": avsc})
	return string(b)
}

// quoted is s as a JSON string.
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// step is one request to the registry and what must come back: a body
// equal to want (compared as compact JSON, or containing want when
// contains is set), or an error body with Confluent error code.
type step struct {
	method, path, body string
	status             int
	want               string
	contains           bool
	code               int
}

func runSteps(t *testing.T, base string, steps []step) {
	t.Helper()
	for _, s := range steps {
		status, body, ctype := request(t, base, s.method, s.path, s.body, "", "")
		name := s.method + " " + s.path
		if ctype != mediaType {
			t.Errorf("%s: content type %q, want %q", name, ctype, mediaType)
		}
		if status != s.status {
			t.Errorf("%s: status %d, want %d (body %s)", name, status, s.status, body)
			continue
		}
		if s.code != 0 {
			var e errorBody
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Code != s.code || e.Message == "" {
				t.Errorf("%s: body %s, want error_code %d with a message", name, body, s.code)
			}
			continue
		}
		if s.contains {
			if !strings.Contains(body, s.want) {
				t.Errorf("%s: body %s does not contain %s", name, body, s.want)
			}
			continue
		}
		if compactJSON(body) != compactJSON(s.want) {
			t.Errorf("%s: body\n  %s\nwant\n  %s", name, body, s.want)
		}
	}
}

func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func request(t *testing.T, base, method, path, body, user, pass string) (status int, respBody, contentType string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mediaType)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header.Get("Content-Type")
}

// serveRegistry serves r over TCP on 127.0.0.1 for the test's duration.
func serveRegistry(t *testing.T, r *Registry) string {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		r.Close()
	})
	return srv.URL
}

func newTestRegistry(t *testing.T, opts ...RegistryOpt) (*Registry, string) {
	t.Helper()
	r, err := NewRegistry(context.Background(), NewMemoryStore(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r, serveRegistry(t, r)
}

// TestRegistryAPI walks the REST API as Confluent's registry answers it.
func TestRegistryAPI(t *testing.T) {
	_, base := newTestRegistry(t)
	a1 := quoted(avscA1)
	a2 := quoted(avscA2)
	a3 := quoted(avscA3)
	runSteps(t, base, []step{
		{method: "GET", path: "/", status: 200, want: `{}`},
		{method: "GET", path: "/schemas/types", status: 200, want: `["AVRO"]`},
		{method: "GET", path: "/subjects", status: 200, want: `[]`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`},

		// Registration: ids are global, idempotent, blind to spacing and key order.
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA1), status: 200, want: `{"id":1}`},
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA1Spaced), status: 200, want: `{"id":1}`},
		{method: "GET", path: "/subjects/a-value/versions", status: 200, want: `[1]`},
		{method: "POST", path: "/subjects/b-value/versions", body: schemaBody(avscA1), status: 200, want: `{"id":1}`},
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA2), status: 200, want: `{"id":2}`},
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA3), status: 409, code: 409},

		// Compatibility tests against one version or all of them.
		{method: "POST", path: "/compatibility/subjects/a-value/versions/latest", body: schemaBody(avscA3), status: 200, want: `{"is_compatible":false}`},
		{method: "POST", path: "/compatibility/subjects/a-value/versions/latest?verbose=true", body: schemaBody(avscA3), status: 200, want: `/fields/z`, contains: true},
		{method: "POST", path: "/compatibility/subjects/a-value/versions/1?verbose=true", body: schemaBody(avscA2), status: 200, want: `{"is_compatible":true,"messages":[]}`},
		{method: "POST", path: "/compatibility/subjects/a-value/versions", body: schemaBody(avscA2), status: 200, want: `{"is_compatible":true}`},
		{method: "POST", path: "/compatibility/subjects/a-value/versions/9", body: schemaBody(avscA2), status: 404, code: 40402},
		{method: "POST", path: "/compatibility/subjects/nope/versions/latest", body: schemaBody(avscA2), status: 404, code: 40401},

		// Reading schemas by id, by version, and looking them up.
		{method: "GET", path: "/schemas/ids/1", status: 200, want: `{"schema":` + a1 + `}`},
		{method: "GET", path: "/schemas/ids/1/schema", status: 200, want: avscA1},
		{method: "GET", path: "/schemas/ids/1/versions", status: 200, want: `[{"subject":"a-value","version":1},{"subject":"b-value","version":1}]`},
		{method: "GET", path: "/schemas/ids/99", status: 404, code: 40403},
		{method: "GET", path: "/schemas/ids/x", status: 404, code: 40403},
		{method: "GET", path: "/subjects", status: 200, want: `["a-value","b-value"]`},
		{method: "GET", path: "/subjects/a-value/versions/latest", status: 200, want: `{"subject":"a-value","version":2,"id":2,"schema":` + a2 + `}`},
		{method: "GET", path: "/subjects/a-value/versions/-1", status: 200, want: `{"subject":"a-value","version":2,"id":2,"schema":` + a2 + `}`},
		{method: "GET", path: "/subjects/a-value/versions/1/schema", status: 200, want: avscA1},
		{method: "GET", path: "/subjects/a-value/versions/3", status: 404, code: 40402},
		{method: "GET", path: "/subjects/a-value/versions/0", status: 422, code: 42202},
		{method: "GET", path: "/subjects/a-value/versions/x", status: 422, code: 42202},
		{method: "GET", path: "/subjects/nope/versions", status: 404, code: 40401},
		{method: "GET", path: "/subjects/nope/versions/latest", status: 404, code: 40401},
		{method: "POST", path: "/subjects/a-value", body: schemaBody(avscA2), status: 200, want: `{"subject":"a-value","version":2,"id":2,"schema":` + a2 + `}`},
		{method: "POST", path: "/subjects/a-value", body: schemaBody(avscB), status: 404, code: 40403},
		{method: "POST", path: "/subjects/nope", body: schemaBody(avscA1), status: 404, code: 40401},

		// Invalid schemas and requests.
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(`{"type":"record"`), status: 422, code: 42201},
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(`{"type":"nonsense"}`), status: 422, code: 42201},
		{method: "POST", path: "/subjects/a-value/versions", body: `{"schema":"syntax = \"proto3\";","schemaType":"PROTOBUF"}`, status: 422, code: 42201},
		{method: "POST", path: "/subjects/a-value/versions", body: `{"schema":` + a1 + `,"references":[{"name":"x","subject":"y","version":1}]}`, status: 422, code: 42201},
		{method: "POST", path: "/subjects/a-value/versions", body: `not json`, status: 400, code: 400},
		{method: "GET", path: "/no/such/route", status: 404, code: 404},

		// Compatibility levels, global and per subject.
		{method: "PUT", path: "/config/a-value", body: `{"compatibility":"NONE"}`, status: 200, want: `{"compatibility":"NONE"}`},
		{method: "GET", path: "/config/a-value", status: 200, want: `{"compatibilityLevel":"NONE"}`},
		{method: "GET", path: "/config/b-value", status: 404, code: 40408},
		{method: "GET", path: "/config/b-value?defaultToGlobal=true", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`},
		{method: "PUT", path: "/config", body: `{"compatibility":"bogus"}`, status: 422, code: 42203},
		{method: "PUT", path: "/config", body: `{"compatibility":"full"}`, status: 200, want: `{"compatibility":"FULL"}`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"FULL"}`},
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA3), status: 200, want: `{"id":3}`},
		{method: "DELETE", path: "/config/a-value", status: 200, want: `{"compatibilityLevel":"NONE","compatibility":"NONE"}`},
		{method: "DELETE", path: "/config/a-value", status: 404, code: 40408},

		// Soft, then permanent deletes; soft-deleted schemas stay readable by id.
		{method: "DELETE", path: "/subjects/a-value/versions/3?permanent=true", status: 404, code: 40407},
		{method: "DELETE", path: "/subjects/a-value/versions/latest", status: 200, want: `3`},
		{method: "DELETE", path: "/subjects/a-value/versions/3", status: 404, code: 40406},
		{method: "GET", path: "/subjects/a-value/versions", status: 200, want: `[1,2]`},
		{method: "GET", path: "/subjects/a-value/versions?deleted=true", status: 200, want: `[1,2,3]`},
		{method: "GET", path: "/subjects/a-value/versions/3", status: 404, code: 40402},
		{method: "GET", path: "/subjects/a-value/versions/3?deleted=true", status: 200, want: `{"subject":"a-value","version":3,"id":3,"schema":` + a3 + `}`},
		{method: "GET", path: "/schemas/ids/3", status: 200, want: `{"schema":` + a3 + `}`},
		{method: "DELETE", path: "/subjects/a-value/versions/3?permanent=true", status: 200, want: `3`},
		{method: "GET", path: "/schemas/ids/3", status: 404, code: 40403},
		{method: "GET", path: "/subjects/a-value/versions?deleted=true", status: 200, want: `[1,2]`},
		{method: "DELETE", path: "/subjects/b-value?permanent=true", status: 404, code: 40405},
		{method: "DELETE", path: "/subjects/b-value", status: 200, want: `[1]`},
		{method: "DELETE", path: "/subjects/b-value", status: 404, code: 40404},
		{method: "GET", path: "/subjects", status: 200, want: `["a-value"]`},
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["a-value","b-value"]`},
		{method: "GET", path: "/schemas/ids/1/versions", status: 200, want: `[{"subject":"a-value","version":1}]`},
		{method: "GET", path: "/schemas/ids/1/versions?deleted=true", status: 200, want: `[{"subject":"a-value","version":1},{"subject":"b-value","version":1}]`},
		{method: "DELETE", path: "/subjects/b-value?permanent=true", status: 200, want: `[1]`},
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["a-value"]`},
		{method: "DELETE", path: "/subjects/nope", status: 404, code: 40401},

		// Ids never change: a schema registered again gets its old id.
		{method: "PUT", path: "/config", body: `{"compatibility":"NONE"}`, status: 200, want: `{"compatibility":"NONE"}`},
		{method: "POST", path: "/subjects/c-value/versions", body: schemaBody(avscA3), status: 200, want: `{"id":3}`},
		{method: "POST", path: "/subjects/c-value/versions", body: schemaBody(avscB), status: 200, want: `{"id":4}`},
		{method: "GET", path: "/subjects/c-value/versions", status: 200, want: `[1,2]`},
	})
}

// The registry's state survives a restart on the same directory: ids,
// versions, deletions and levels, and new ids continue after the old ones.
func TestRegistryPersists(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	r, err := OpenRegistry(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := serveRegistryUntil(t, r)
	runSteps(t, base, []step{
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA1), status: 200, want: `{"id":1}`},
		{method: "POST", path: "/subjects/b-value/versions", body: schemaBody(avscB), status: 200, want: `{"id":2}`},
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA2), status: 200, want: `{"id":3}`},
		{method: "PUT", path: "/config/a-value", body: `{"compatibility":"FULL"}`, status: 200, want: `{"compatibility":"FULL"}`},
		{method: "DELETE", path: "/subjects/b-value", status: 200, want: `[1]`},
	})
	stop()

	// A crash in the middle of the next append leaves a torn line.
	f, err := os.OpenFile(filepath.Join(dir, StoreFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"kind":"schema","subject":"c-val`)
	f.Close()

	var logs bytes.Buffer
	r, err = OpenRegistry(ctx, dir, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if !strings.Contains(logs.String(), "torn record") {
		t.Errorf("reopen did not report the torn record; logs: %s", logs.String())
	}
	base, stop = serveRegistryUntil(t, r)
	runSteps(t, base, []step{
		{method: "GET", path: "/subjects", status: 200, want: `["a-value"]`},
		{method: "GET", path: "/subjects/a-value/versions/latest", status: 200, want: `{"subject":"a-value","version":2,"id":3,"schema":` + quoted(avscA2) + `}`},
		{method: "GET", path: "/schemas/ids/2", status: 200, want: `{"schema":` + quoted(avscB) + `}`},
		{method: "GET", path: "/config/a-value", status: 200, want: `{"compatibilityLevel":"FULL"}`},
		{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(avscA1), status: 200, want: `{"id":1}`},
		{method: "POST", path: "/subjects/c-value/versions", body: schemaBody(avscA3), status: 200, want: `{"id":4}`},
	})
	stop()
}

// serveRegistryUntil serves r with Run on a 127.0.0.1 port; stop ends Run,
// checks that it returned nil, and closes r.
func serveRegistryUntil(t *testing.T, r *Registry) (base string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, ln) }()
	return "http://" + ln.Addr().String(), func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v after its context ended", err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

// Run stops serving when its context ends and returns nil; the port is
// closed afterwards.
func TestRegistryRunStops(t *testing.T) {
	r, err := NewRegistry(context.Background(), NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	base, stop := serveRegistryUntil(t, r)
	runSteps(t, base, []step{{method: "GET", path: "/subjects", status: 200, want: `[]`}})
	stop()
	if _, err := http.Get(base + "/subjects"); err == nil {
		t.Error("the registry still answers after Run returned")
	}
}

func TestRegistryBasicAuth(t *testing.T) {
	_, base := newTestRegistry(t, WithBasicAuth("reckon", "s3cret"))
	for _, c := range []struct{ user, pass string }{{"", ""}, {"reckon", "wrong"}, {"other", "s3cret"}} {
		status, body, _ := request(t, base, "GET", "/subjects", "", c.user, c.pass)
		if status != 401 || compactJSON(body) != `{"error_code":401,"message":"Unauthorized"}` {
			t.Errorf("user %q pass %q: %d %s, want 401 with Confluent's error body", c.user, c.pass, status, body)
		}
	}
	if status, body, _ := request(t, base, "GET", "/subjects", "", "reckon", "s3cret"); status != 200 {
		t.Errorf("right credentials: %d %s", status, body)
	}
}

func TestNewRegistryValidatesOptions(t *testing.T) {
	_, err := NewRegistry(context.Background(), NewMemoryStore(),
		WithBasicAuth("", "x"), WithShutdownTimeout(0), WithDefaultLevel(Level(42)))
	for _, want := range []string{"basic auth needs a user", "shutdown timeout", "default level"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewRegistry error %v does not report %q", err, want)
		}
	}
}

// failingStore refuses appends once failing is set.
type failingStore struct {
	*MemoryStore
	failing bool
}

func (s *failingStore) Append(ctx context.Context, e Event) error {
	if s.failing {
		return errors.New("disk full")
	}
	return s.MemoryStore.Append(ctx, e)
}

// A write the store refuses is a 50001 and changes nothing.
func TestRegistryBackendError(t *testing.T) {
	st := &failingStore{MemoryStore: NewMemoryStore()}
	r, err := NewRegistry(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	base := serveRegistry(t, r)
	runSteps(t, base, []step{{method: "POST", path: "/subjects/a/versions", body: schemaBody(avscA1), status: 200, want: `{"id":1}`}})
	st.failing = true
	runSteps(t, base, []step{
		{method: "POST", path: "/subjects/a/versions", body: schemaBody(avscA2), status: 500, code: 50001},
		{method: "PUT", path: "/config", body: `{"compatibility":"NONE"}`, status: 500, code: 50001},
		{method: "DELETE", path: "/subjects/a", status: 500, code: 50001},
		{method: "GET", path: "/subjects/a/versions", status: 200, want: `[1]`},
		{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD"}`},
	})
	st.failing = false
	runSteps(t, base, []step{{method: "POST", path: "/subjects/a/versions", body: schemaBody(avscA2), status: 200, want: `{"id":2}`}})
}

// A log whose events do not replay (here: a version registered twice) is
// refused with ErrCorruptStore rather than served half-applied.
func TestNewRegistryRefusesInconsistentLog(t *testing.T) {
	st := NewMemoryStore()
	e := Event{Kind: EventSchema, Subject: "a", Version: 1, ID: 1, Schema: avscA1}
	st.Append(context.Background(), e)
	st.Append(context.Background(), e)
	if _, err := NewRegistry(context.Background(), st); !errors.Is(err, ErrCorruptStore) || !strings.Contains(err.Error(), "event 2") {
		t.Errorf("NewRegistry = %v, want ErrCorruptStore naming event 2", err)
	}
}

// Concurrent registrations get distinct versions, and one id per schema.
func TestRegistryConcurrentRegistrations(t *testing.T) {
	_, base := newTestRegistry(t, WithDefaultLevel(None))
	const n = 16
	ids := make([]int, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Go(func() {
			avsc := fmt.Sprintf(`{"type":"record","name":"R%d","fields":[]}`, i%n)
			status, body, _ := request(t, base, "POST", "/subjects/s/versions", schemaBody(avsc), "", "")
			var got struct{ ID int }
			if status != 200 || json.Unmarshal([]byte(body), &got) != nil {
				t.Errorf("register %d: %d %s", i, status, body)
			}
			ids[i] = got.ID
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range n {
		if ids[i] != ids[i+n] {
			t.Errorf("schema R%d got ids %d and %d", i, ids[i], ids[i+n])
		}
		seen[ids[i]] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct ids for %d schemas", len(seen), n)
	}
	status, body, _ := request(t, base, "GET", "/subjects/s/versions", "", "", "")
	var versions []int
	json.Unmarshal([]byte(body), &versions)
	if status != 200 || len(versions) != n || versions[n-1] != n {
		t.Errorf("versions = %s, want 1..%d", body, n)
	}
}

// Run returns an error at once when serving fails.
func TestRegistryRunFailsOnClosedListener(t *testing.T) {
	r, err := NewRegistry(context.Background(), NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Run(ctx, ln); err == nil || ctx.Err() != nil {
		t.Errorf("Run on a closed listener = %v, want an error before the deadline", err)
	}
}
