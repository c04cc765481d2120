package schemas

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/riferrei/srclient"
)

// Client is a schema registry client over github.com/riferrei/srclient. It
// implements SchemaSource: writer schemas are cached by id for the life of
// the Client (ids are immutable in a registry), so after warm-up decoding a
// record makes no HTTP call, and concurrent misses for one id share one
// request.
//
// Every method takes a context that bounds it, retries included. Failures
// are *RegistryError values. Infrastructure failures (connection refused,
// timeouts, 5xx, 429) wrap ErrUnavailable and are retried with exponential
// backoff until the context ends; they are never reported as
// ErrUnknownSchema. An id the registry does not know (40403) is retried a
// few times (registries replicate asynchronously) and then wraps
// ErrUnknownSchema: the record that named it is bad. Such an id is then
// remembered as unknown for a while, so a stream of bad records does not
// stall on retries.
//
// A Client starts no goroutines; it is safe for concurrent use.
type Client struct {
	url            string
	user, pass     string
	tls            *tls.Config
	transport      http.RoundTripper
	timeout        time.Duration
	backoff        func(retry int) time.Duration
	unknownRetries int
	unknownTTL     time.Duration

	mu      sync.RWMutex
	cache   map[int]*Schema
	unknown map[int]unknownID
	flights map[int]*flight
}

// unknownID remembers an id the registry did not have.
type unknownID struct {
	err     error
	expires time.Time
}

// flight is one fetch of a schema by id that concurrent callers share.
type flight struct {
	done   chan struct{}
	schema *Schema
	err    error
}

// ClientOpt configures NewClient.
type ClientOpt interface{ applyClient(*Client) }

type clientOpt func(*Client)

func (f clientOpt) applyClient(c *Client) { f(c) }

// WithTLS sets the TLS configuration for an https registry URL. The default
// verifies the registry with the system's roots.
func WithTLS(cfg *tls.Config) ClientOpt {
	return clientOpt(func(c *Client) { c.tls = cfg })
}

// WithTransport sets the HTTP transport requests go through. The default is
// a clone of http.DefaultTransport. It cannot be combined with WithTLS:
// configure TLS on the transport instead.
func WithTransport(rt http.RoundTripper) ClientOpt {
	return clientOpt(func(c *Client) { c.transport = rt })
}

// WithRequestTimeout bounds each HTTP attempt; a timed-out attempt is an
// infrastructure failure and is retried. The default is 5 seconds.
func WithRequestTimeout(d time.Duration) ClientOpt {
	return clientOpt(func(c *Client) { c.timeout = d })
}

// WithBackoff sets the wait before retry number retry (1 for the first
// retry). The default, DefaultBackoff, doubles from 100ms up to 5s.
func WithBackoff(fn func(retry int) time.Duration) ClientOpt {
	return clientOpt(func(c *Client) { c.backoff = fn })
}

// WithUnknownIDRetries sets how many times a schema id the registry
// answers 40403 for is asked again before it is reported as
// ErrUnknownSchema. The default is 3; 0 reports it at once.
func WithUnknownIDRetries(n int) ClientOpt {
	return clientOpt(func(c *Client) { c.unknownRetries = n })
}

// WithUnknownIDTTL sets how long an id reported as ErrUnknownSchema is
// answered from memory before the registry is asked again. The default is
// one minute; 0 always asks.
func WithUnknownIDTTL(d time.Duration) ClientOpt {
	return clientOpt(func(c *Client) { c.unknownTTL = d })
}

// DefaultBackoff is the default wait before retry number retry: 100ms,
// doubled for each further retry, at most 5s.
func DefaultBackoff(retry int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < retry && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// NewClient returns a client for the registry at baseURL (http or https).
func NewClient(baseURL string, opts ...ClientOpt) (*Client, error) {
	c := &Client{
		url:            strings.TrimRight(baseURL, "/"),
		timeout:        5 * time.Second,
		backoff:        DefaultBackoff,
		unknownRetries: 3,
		unknownTTL:     time.Minute,
		cache:          map[int]*Schema{},
		unknown:        map[int]unknownID{},
		flights:        map[int]*flight{},
	}
	for _, o := range opts {
		o.applyClient(c)
	}
	var problems []error
	if u, err := url.Parse(c.url); err != nil {
		problems = append(problems, fmt.Errorf("schemas: registry URL: %w", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("schemas: registry URL %q is not an http(s) URL", baseURL))
	}
	if c.pass != "" && c.user == "" {
		problems = append(problems, errors.New("schemas: basic auth needs a user"))
	}
	if c.timeout <= 0 {
		problems = append(problems, fmt.Errorf("schemas: request timeout %v is not positive", c.timeout))
	}
	if c.backoff == nil {
		problems = append(problems, errors.New("schemas: WithBackoff needs a function"))
	}
	if c.unknownRetries < 0 {
		problems = append(problems, fmt.Errorf("schemas: unknown-id retries %d is negative", c.unknownRetries))
	}
	if c.unknownTTL < 0 {
		problems = append(problems, fmt.Errorf("schemas: unknown-id TTL %v is negative", c.unknownTTL))
	}
	switch {
	case c.transport != nil && c.tls != nil:
		problems = append(problems, errors.New("schemas: WithTLS and WithTransport exclude each other"))
	case c.transport == nil:
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = c.tls
		c.transport = t
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return c, nil
}

// URL returns the registry's base URL.
func (c *Client) URL() string { return c.url }

// SubjectVersion is one version of a subject.
type SubjectVersion struct {
	Subject string
	Version int
	ID      int
	Schema  *Schema
}

// recorder is the transport of one srclient call: it gives each request
// the call's context and remembers the last answer's status, which
// srclient does not report when an error body is not JSON.
type recorder struct {
	ctx    context.Context
	base   http.RoundTripper
	status int
	err    error
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req.WithContext(r.ctx))
	r.status, r.err = 0, err
	if resp != nil {
		r.status = resp.StatusCode
	}
	return resp, err
}

// attempt runs fn once against a fresh srclient bound to ctx (srclient's
// methods take no context), with srclient's own caching off: the Client
// caches what is worth caching. It returns the classified failure.
func (c *Client) attempt(ctx context.Context, tmpl RegistryError, fn func(*srclient.SchemaRegistryClient) error) error {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rec := &recorder{ctx: actx, base: c.transport}
	opts := []srclient.Option{srclient.WithClient(&http.Client{Transport: rec}), srclient.WithSemaphoreWeight(1)}
	if c.user != "" {
		opts = append(opts, srclient.WithPreReqFn(func(req *http.Request) error {
			req.SetBasicAuth(c.user, c.pass)
			return nil
		}))
	}
	api := srclient.NewSchemaRegistryClient(c.url, opts...)
	api.CachingEnabled(false)
	err := fn(api)
	if err == nil {
		return nil
	}
	e := tmpl
	var rerr *RegistryError
	var serr srclient.Error
	switch {
	case errors.As(err, &rerr):
		return err // fn classified it already
	case rec.err != nil || rec.status == 0:
		// No answer: connection refused, reset, timed out.
		e.Message, e.Err = err.Error(), ErrUnavailable
	case errors.As(err, &serr):
		e.Status, e.Code, e.Message = rec.status, serr.Code, serr.Message
		e.Err = sentinelFor(rec.status, serr.Code)
	case rec.status < 200 || rec.status > 299:
		e.Status, e.Message = rec.status, err.Error()
		e.Err = sentinelFor(rec.status, 0)
	default:
		// A 2xx answer srclient could not read: the registry (or a proxy in
		// front of it) misbehaves; that is infrastructure, not data.
		e.Status, e.Message, e.Err = rec.status, "unreadable answer: "+err.Error(), ErrUnavailable
	}
	return &e
}

// do runs fn until it succeeds, fails for good, or ctx ends. Failures that
// wrap ErrUnavailable are retried without limit; ErrUnknownSchema is
// retried unknownRetries times; anything else is returned at once.
func (c *Client) do(ctx context.Context, tmpl RegistryError, unknownRetries int, fn func(*srclient.SchemaRegistryClient) error) error {
	var last *RegistryError // the last failure not caused by ctx ending
	unknown := 0
	for retry := 1; ; retry++ {
		if err := ctx.Err(); err != nil {
			return gaveUp(tmpl, last, err)
		}
		err := c.attempt(ctx, tmpl, fn)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			if last == nil {
				errors.As(err, &last)
			}
			return gaveUp(tmpl, last, cerr)
		}
		switch {
		case errors.Is(err, ErrUnavailable):
		case errors.Is(err, ErrUnknownSchema) && unknown < unknownRetries:
			unknown++
		default:
			return err
		}
		errors.As(err, &last)
		t := time.NewTimer(c.backoff(retry))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return gaveUp(tmpl, last, ctx.Err())
		}
	}
}

// gaveUp is the error of an operation whose context ended: it keeps what
// the last attempt found and wraps the context's error. An unknown id
// whose retries were cut short does not wrap ErrUnknownSchema: the record
// is not proven bad.
func gaveUp(tmpl RegistryError, last *RegistryError, ctxErr error) error {
	e := tmpl
	if last != nil {
		e = *last
	}
	switch {
	case last != nil && errors.Is(last, ErrUnavailable):
		e.Err = fmt.Errorf("%w, gave up: %w", ErrUnavailable, ctxErr)
	case last != nil && errors.Is(last, ErrUnknownSchema):
		e.Err = fmt.Errorf("gave up before the retries for an unknown id ended: %w", ctxErr)
	default:
		e.Message, e.Err = "gave up", ctxErr
	}
	return &e
}

// SchemaByID returns the writer schema registered under id, from the cache
// when it has been fetched before.
func (c *Client) SchemaByID(ctx context.Context, id int) (*Schema, error) {
	c.mu.RLock()
	s, ok := c.cache[id]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	for {
		c.mu.Lock()
		if s, ok := c.cache[id]; ok {
			c.mu.Unlock()
			return s, nil
		}
		if u, ok := c.unknown[id]; ok {
			if time.Now().Before(u.expires) {
				c.mu.Unlock()
				return nil, u.err
			}
			delete(c.unknown, id)
		}
		f, ok := c.flights[id]
		if !ok {
			f = &flight{done: make(chan struct{})}
			c.flights[id] = f
			c.mu.Unlock()
			f.schema, f.err = c.fetchSchema(ctx, id)
			c.mu.Lock()
			delete(c.flights, id)
			switch {
			case f.err == nil:
				c.cache[id] = f.schema
			case errors.Is(f.err, ErrUnknownSchema) && c.unknownTTL > 0:
				c.unknown[id] = unknownID{err: f.err, expires: time.Now().Add(c.unknownTTL)}
			}
			c.mu.Unlock()
			close(f.done)
			return f.schema, f.err
		}
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, &RegistryError{Op: "get schema", ID: id, Message: "gave up waiting", Err: ctx.Err()}
		}
		// The fetch we waited for ended with its own caller's context: ours
		// is still alive, so fetch again.
		if f.err != nil && ctx.Err() == nil &&
			(errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
			continue
		}
		return f.schema, f.err
	}
}

// fetchSchema asks the registry for schema id and parses it.
func (c *Client) fetchSchema(ctx context.Context, id int) (*Schema, error) {
	tmpl := RegistryError{Op: "get schema", ID: id}
	var s *Schema
	err := c.do(ctx, tmpl, c.unknownRetries, func(api *srclient.SchemaRegistryClient) error {
		got, err := api.GetSchema(id)
		if err != nil {
			return err
		}
		s, err = parseRegistered(tmpl, got)
		return err
	})
	return s, err
}

// parseRegistered parses a schema the registry returned. A registered
// schema that is not Avro or does not parse cannot decode any record that
// names it, so it is reported as unknown.
func parseRegistered(tmpl RegistryError, got *srclient.Schema) (*Schema, error) {
	if t := got.SchemaType(); t != nil && *t != "" && *t != srclient.Avro {
		tmpl.Message, tmpl.Err = fmt.Sprintf("schema is %s, not Avro", *t), ErrUnknownSchema
		return nil, &tmpl
	}
	s, err := Parse(got.Schema())
	if err != nil {
		tmpl.Message, tmpl.Err = "the registered schema does not parse", fmt.Errorf("%w: %w", ErrUnknownSchema, err)
		return nil, &tmpl
	}
	return s, nil
}

// remember caches the schema of a registry answer under its id.
func (c *Client) remember(id int, s *Schema) {
	c.mu.Lock()
	c.cache[id] = s
	delete(c.unknown, id)
	c.mu.Unlock()
}

// Register registers s under subject (idempotent: a schema the subject has
// gets its existing id) and returns its id. A schema the subject's
// compatibility level refuses wraps ErrIncompatible.
func (c *Client) Register(ctx context.Context, subject string, s *Schema) (int, error) {
	tmpl := RegistryError{Op: "register", Subject: subject}
	var id int
	err := c.do(ctx, tmpl, 0, func(api *srclient.SchemaRegistryClient) error {
		got, err := api.CreateSchema(subject, s.String(), srclient.Avro)
		if err != nil {
			return err
		}
		reg, err := parseRegistered(tmpl, got)
		if err != nil {
			return err
		}
		id = got.ID()
		c.remember(id, reg)
		return nil
	})
	return id, err
}

// Lookup returns the version of subject that has schema s; a subject
// without it wraps ErrUnknownSchema, a missing subject ErrNotFound.
func (c *Client) Lookup(ctx context.Context, subject string, s *Schema) (SubjectVersion, error) {
	return c.version(ctx, RegistryError{Op: "lookup", Subject: subject}, func(api *srclient.SchemaRegistryClient) (*srclient.Schema, error) {
		return api.LookupSchema(subject, s.String(), srclient.Avro)
	})
}

// Latest returns the latest version of subject.
func (c *Client) Latest(ctx context.Context, subject string) (SubjectVersion, error) {
	return c.version(ctx, RegistryError{Op: "get latest version", Subject: subject}, func(api *srclient.SchemaRegistryClient) (*srclient.Schema, error) {
		return api.GetLatestSchema(subject)
	})
}

// Version returns version v of subject.
func (c *Client) Version(ctx context.Context, subject string, v int) (SubjectVersion, error) {
	return c.version(ctx, RegistryError{Op: "get version", Subject: subject, Version: v}, func(api *srclient.SchemaRegistryClient) (*srclient.Schema, error) {
		return api.GetSchemaByVersion(subject, v)
	})
}

func (c *Client) version(ctx context.Context, tmpl RegistryError, get func(*srclient.SchemaRegistryClient) (*srclient.Schema, error)) (SubjectVersion, error) {
	var sv SubjectVersion
	err := c.do(ctx, tmpl, 0, func(api *srclient.SchemaRegistryClient) error {
		got, err := get(api)
		if err != nil {
			return err
		}
		s, err := parseRegistered(tmpl, got)
		if err != nil {
			return err
		}
		sv = SubjectVersion{Subject: tmpl.Subject, Version: got.Version(), ID: got.ID(), Schema: s}
		c.remember(sv.ID, s)
		return nil
	})
	return sv, err
}

// Subjects returns the registry's subjects.
func (c *Client) Subjects(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, RegistryError{Op: "list subjects"}, 0, func(api *srclient.SchemaRegistryClient) error {
		var err error
		out, err = api.GetSubjects()
		return err
	})
	return out, err
}

// Versions returns the version numbers of subject, oldest first.
func (c *Client) Versions(ctx context.Context, subject string) ([]int, error) {
	var out []int
	err := c.do(ctx, RegistryError{Op: "list versions", Subject: subject}, 0, func(api *srclient.SchemaRegistryClient) error {
		var err error
		out, err = api.GetSchemaVersions(subject)
		return err
	})
	return out, err
}

// History returns every version of subject with its writer schema, oldest
// first: what the start-up gate checks a reader against. A subject that
// does not exist wraps ErrNotFound.
func (c *Client) History(ctx context.Context, subject string) ([]SubjectVersion, error) {
	versions, err := c.Versions(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]SubjectVersion, 0, len(versions))
	for _, v := range versions {
		sv, err := c.Version(ctx, subject, v)
		if errors.Is(err, ErrNotFound) {
			continue // deleted since Versions answered
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	return out, nil
}
