package schemas

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func newTestClient(t testing.TB, url string, opts ...ClientOpt) *Client {
	t.Helper()
	c, err := NewClient(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handlerTransport serves a client's requests in-process with a Registry,
// so that a client and a registry fit in one synctest bubble. inject, when
// set, may answer a request itself (or block) before the registry does.
type handlerTransport struct {
	h      http.Handler
	inject func(req *http.Request) (*http.Response, error)

	mu    sync.Mutex
	calls []string
}

func (t *handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.calls = append(t.calls, req.Method+" "+req.URL.Path)
	t.mu.Unlock()
	if t.inject != nil {
		if resp, err := t.inject(req); resp != nil || err != nil {
			return resp, err
		}
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func (t *handlerTransport) count(prefix string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func answer(req *http.Request, status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{"Content-Type": {"text/plain"}},
		Body:       io.NopCloser(strings.NewReader(body)),
		Request:    req,
	}
}

// inProcess returns a registry (with schema avscA1 as id 1 of subject a)
// and a transport that serves it.
func inProcess(t testing.TB) *handlerTransport {
	t.Helper()
	r, err := NewRegistry(context.Background(), NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	tr := &handlerTransport{h: r}
	c := newTestClient(t, "http://registry.test", WithTransport(tr))
	if _, err := c.Register(context.Background(), "a", mustParse(t, avscA1)); err != nil {
		t.Fatal(err)
	}
	tr.calls = nil
	return tr
}

// The client's operations against the embedded registry over TCP.
func TestClientOperations(t *testing.T) {
	_, base := newTestRegistry(t)
	c := newTestClient(t, base)
	ctx := context.Background()
	a1, a2, a3 := mustParse(t, avscA1), mustParse(t, avscA2), mustParse(t, avscA3)

	id1, err := c.Register(ctx, "a-value", a1)
	if err != nil || id1 != 1 {
		t.Fatalf("Register a1 = %d, %v", id1, err)
	}
	if id, err := c.Register(ctx, "a-value", a1); err != nil || id != 1 {
		t.Errorf("Register a1 again = %d, %v, want the same id", id, err)
	}
	if id, err := c.Register(ctx, "a-value", a2); err != nil || id != 2 {
		t.Errorf("Register a2 = %d, %v", id, err)
	}
	_, err = c.Register(ctx, "a-value", a3)
	var re *RegistryError
	if !errors.As(err, &re) || !errors.Is(err, ErrIncompatible) || re.Code != 409 || re.Subject != "a-value" {
		t.Errorf("Register a3 = %v, want a *RegistryError 409 wrapping ErrIncompatible", err)
	}

	if sv, err := c.Lookup(ctx, "a-value", a2); err != nil || sv.Version != 2 || sv.ID != 2 || sv.Schema.String() != a2.String() {
		t.Errorf("Lookup a2 = %+v, %v", sv, err)
	}
	if _, err := c.Lookup(ctx, "a-value", a3); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("Lookup of an unregistered schema = %v, want ErrUnknownSchema", err)
	}
	if sv, err := c.Latest(ctx, "a-value"); err != nil || sv.Version != 2 || sv.ID != 2 {
		t.Errorf("Latest = %+v, %v", sv, err)
	}
	if sv, err := c.Version(ctx, "a-value", 1); err != nil || sv.Version != 1 || sv.ID != 1 || sv.Subject != "a-value" {
		t.Errorf("Version 1 = %+v, %v", sv, err)
	}
	if _, err := c.Version(ctx, "a-value", 7); !errors.Is(err, ErrNotFound) {
		t.Errorf("Version 7 = %v, want ErrNotFound", err)
	}
	if subjects, err := c.Subjects(ctx); err != nil || strings.Join(subjects, ",") != "a-value" {
		t.Errorf("Subjects = %v, %v", subjects, err)
	}
	h, err := c.History(ctx, "a-value")
	if err != nil || len(h) != 2 || h[0].ID != 1 || h[1].ID != 2 || h[1].Schema.String() != a2.String() {
		t.Errorf("History = %+v, %v", h, err)
	}
	if _, err := c.History(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("History of a missing subject = %v, want ErrNotFound", err)
	}
	if s, err := c.SchemaByID(ctx, 2); err != nil || s.String() != a2.String() {
		t.Errorf("SchemaByID 2 = %v, %v", s, err)
	}
}

// After the first fetch of an id, SchemaByID makes no request.
func TestClientCachesByID(t *testing.T) {
	tr := inProcess(t)
	c := newTestClient(t, "http://registry.test", WithTransport(tr))
	for range 100 {
		s, err := c.SchemaByID(context.Background(), 1)
		if err != nil || s.String() != mustParse(t, avscA1).String() {
			t.Fatalf("SchemaByID = %v, %v", s, err)
		}
	}
	if n := tr.count("GET /schemas/ids/1"); n != 1 {
		t.Errorf("%d requests for 100 lookups of one id, want 1", n)
	}
}

// Concurrent misses for one id share one request.
func TestClientCoalescesMisses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := inProcess(t)
		release := make(chan struct{})
		tr.inject = func(*http.Request) (*http.Response, error) {
			<-release
			return nil, nil
		}
		c := newTestClient(t, "http://registry.test", WithTransport(tr))
		const n = 8
		var wg sync.WaitGroup
		got := make([]*Schema, n)
		for i := range n {
			wg.Go(func() {
				s, err := c.SchemaByID(context.Background(), 1)
				if err != nil {
					t.Errorf("SchemaByID: %v", err)
				}
				got[i] = s
			})
		}
		synctest.Wait() // every caller is waiting: one on the registry, the rest on it
		if n := tr.count("GET"); n != 1 {
			t.Errorf("%d requests in flight for one id, want 1", n)
		}
		close(release)
		wg.Wait()
		for i := range n {
			if got[i] != got[0] || got[i] == nil {
				t.Fatalf("callers got different schemas")
			}
		}
	})
}

// When the caller whose request the others wait on gives up, a waiter
// whose context is alive fetches for itself.
func TestClientWaiterOutlivesLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := inProcess(t)
		first := true
		var mu sync.Mutex
		tr.inject = func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			block := first
			first = false
			mu.Unlock()
			if block {
				<-req.Context().Done()
				return nil, req.Context().Err()
			}
			return nil, nil
		}
		c := newTestClient(t, "http://registry.test", WithTransport(tr))
		leaderCtx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := c.SchemaByID(leaderCtx, 1); !errors.Is(err, context.Canceled) {
				t.Errorf("leader: %v, want context.Canceled", err)
			}
		})
		synctest.Wait()
		wg.Go(func() {
			if s, err := c.SchemaByID(context.Background(), 1); err != nil || s == nil {
				t.Errorf("waiter: %v", err)
			}
		})
		synctest.Wait()
		cancel()
		wg.Wait()
	})
}

// Infrastructure failures are retried with the backoff until one
// succeeds: refused connections, 5xx with or without Confluent's body,
// timeouts.
func TestClientRetriesInfrastructureFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := inProcess(t)
		failures := []func(req *http.Request) (*http.Response, error){
			func(*http.Request) (*http.Response, error) { return nil, errors.New("connect: connection refused") },
			func(req *http.Request) (*http.Response, error) {
				return answer(req, 503, "<html>upstream down</html>"), nil
			},
			func(req *http.Request) (*http.Response, error) {
				return answer(req, 500, `{"error_code":50001,"message":"Error in the backend data store"}`), nil
			},
			func(req *http.Request) (*http.Response, error) {
				<-req.Context().Done() // hangs until the request timeout
				return nil, req.Context().Err()
			},
		}
		tr.inject = func(req *http.Request) (*http.Response, error) {
			if len(failures) == 0 {
				return nil, nil
			}
			f := failures[0]
			failures = failures[1:]
			return f(req)
		}
		c := newTestClient(t, "http://registry.test", WithTransport(tr), WithRequestTimeout(time.Second))
		start := time.Now()
		s, err := c.SchemaByID(context.Background(), 1)
		if err != nil || s == nil {
			t.Fatalf("SchemaByID = %v, %v", s, err)
		}
		// Four failures: 100+200+400+800ms of backoff, 1s of timeout.
		if got, want := time.Since(start), 2500*time.Millisecond; got != want {
			t.Errorf("took %v, want %v", got, want)
		}
		if n := tr.count("GET /schemas/ids/1"); n != 5 {
			t.Errorf("%d attempts, want 5", n)
		}
	})
}

// A registry that stays down is retried until the context ends; the error
// is ErrUnavailable and the context's error, never ErrUnknownSchema.
func TestClientUnavailableUntilDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	c := newTestClient(t, "http://"+addr, WithBackoff(func(int) time.Duration { return time.Millisecond }))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.SchemaByID(ctx, 1)
	var re *RegistryError
	if !errors.As(err, &re) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrUnknownSchema) || re.ID != 1 {
		t.Errorf("SchemaByID on a dead registry = %v, want ErrUnavailable and DeadlineExceeded, not ErrUnknownSchema", err)
	}
	if _, err := c.Register(ctx, "a", mustParse(t, avscA1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Register after the deadline = %v", err)
	}
}

// An unknown id is asked 1+retries times with backoff, then wraps
// ErrUnknownSchema; it is then answered from memory until the TTL ends.
func TestClientUnknownID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := inProcess(t)
		c := newTestClient(t, "http://registry.test", WithTransport(tr), WithUnknownIDRetries(2))
		start := time.Now()
		_, err := c.SchemaByID(context.Background(), 42)
		var re *RegistryError
		if !errors.As(err, &re) || !errors.Is(err, ErrUnknownSchema) || re.Code != 40403 || re.ID != 42 {
			t.Fatalf("SchemaByID(42) = %v, want a 40403 *RegistryError wrapping ErrUnknownSchema", err)
		}
		if n := tr.count("GET /schemas/ids/42"); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
		if got := time.Since(start); got != 300*time.Millisecond {
			t.Errorf("retries took %v, want 300ms of backoff", got)
		}
		if _, err := c.SchemaByID(context.Background(), 42); !errors.Is(err, ErrUnknownSchema) {
			t.Errorf("second SchemaByID(42) = %v", err)
		}
		if n := tr.count("GET /schemas/ids/42"); n != 3 {
			t.Errorf("the remembered unknown id was asked again (%d attempts)", n)
		}
		time.Sleep(time.Minute) // the fake clock passes the default TTL
		c.SchemaByID(context.Background(), 42)
		if n := tr.count("GET /schemas/ids/42"); n != 6 {
			t.Errorf("after the TTL: %d attempts, want 6", n)
		}
	})
}

// A context that ends during the retries for an unknown id does not make
// the record bad.
func TestClientUnknownIDInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := inProcess(t)
		c := newTestClient(t, "http://registry.test", WithTransport(tr))
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := c.SchemaByID(ctx, 42)
		if errors.Is(err, ErrUnknownSchema) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("SchemaByID = %v, want DeadlineExceeded and not ErrUnknownSchema", err)
		}
	})
}

// Refused credentials and bad requests are returned at once.
func TestClientDoesNotRetryRefusals(t *testing.T) {
	_, base := newTestRegistry(t, WithBasicAuth("reckon", "s3cret"))
	ctx := context.Background()
	c := newTestClient(t, base, WithBasicAuth("reckon", "wrong"))
	if _, err := c.Subjects(ctx); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Subjects with wrong credentials = %v, want ErrUnauthorized", err)
	}
	c = newTestClient(t, base, WithBasicAuth("reckon", "s3cret"))
	if _, err := c.Register(ctx, "a", mustParse(t, avscA1)); err != nil {
		t.Errorf("Register with credentials: %v", err)
	}
	if _, err := c.Register(ctx, "a", mustParse(t, avscB)); !errors.Is(err, ErrIncompatible) {
		t.Errorf("Register incompatible = %v, want ErrIncompatible", err)
	}
}

func TestClientTLS(t *testing.T) {
	r, err := NewRegistry(context.Background(), NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewUnstartedServer(r)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c := newTestClient(t, srv.URL, WithTLS(&tls.Config{RootCAs: pool}))
	if id, err := c.Register(context.Background(), "a", mustParse(t, avscA1)); err != nil || id != 1 {
		t.Errorf("Register over TLS = %d, %v", id, err)
	}
	// Without the registry's CA the handshake fails: an infrastructure error.
	c = newTestClient(t, srv.URL, WithBackoff(func(int) time.Duration { return time.Millisecond }))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Subjects(ctx); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Subjects without the CA = %v, want ErrUnavailable naming the certificate", err)
	}
}

func TestNewClientValidates(t *testing.T) {
	_, err := NewClient("ftp://x", WithBasicAuth("", "p"), WithRequestTimeout(0), WithBackoff(nil),
		WithUnknownIDRetries(-1), WithUnknownIDTTL(-time.Second), WithTLS(&tls.Config{}), WithTransport(http.DefaultTransport))
	for _, want := range []string{"not an http(s) URL", "basic auth needs a user", "request timeout", "WithBackoff",
		"retries -1", "TTL", "exclude each other"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient error %v does not report %q", err, want)
		}
	}
}

func TestDefaultBackoff(t *testing.T) {
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i, w := range want {
		if got := DefaultBackoff(i + 1); got != w*time.Millisecond {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}
