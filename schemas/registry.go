package schemas

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Registry is reckon's embedded schema registry: an http.Handler that speaks
// the parts of the Confluent Schema Registry REST API that clients use, over
// a Store that keeps every change. Schema ids are global: a schema gets one
// id the first time any subject registers it, and keeps it under every
// subject and across restarts. Registration is idempotent and enforces the
// subject's compatibility level (BACKWARD unless configured) with Check.
// Only Avro schemas are accepted.
//
// A Registry is safe for concurrent use. Writes are serialised and each is
// durable in the Store before it is acknowledged.
type Registry struct {
	store        Store
	user, pass   string
	log          *slog.Logger
	defaultLevel Level
	shutdown     time.Duration
	mux          *http.ServeMux

	mu       sync.RWMutex
	byKey    map[string]int // normalised schema JSON → id
	byID     map[int]*stored
	nextID   int
	subjects map[string]*subject
	global   *Level // nil: defaultLevel
}

// stored is one registered schema, shared by every version that uses it.
type stored struct {
	id     int
	text   string
	schema *Schema
	refs   int // versions (soft-deleted included) that use it
}

type subject struct {
	versions []*version // ascending by number
	level    *Level
}

type version struct {
	n       int
	id      int
	deleted bool
}

// RegistryOpt configures NewRegistry and OpenRegistry.
type RegistryOpt interface{ applyRegistry(*Registry) }

type registryOpt func(*Registry)

func (f registryOpt) applyRegistry(r *Registry) { f(r) }

// WithDefaultLevel sets the compatibility level of a registry whose global
// level was never configured with PUT /config. The default is Backward.
func WithDefaultLevel(l Level) RegistryOpt {
	return registryOpt(func(r *Registry) { r.defaultLevel = l })
}

// WithLogger sets where the registry logs recoveries and failed writes. The
// default discards them.
func WithLogger(l *slog.Logger) RegistryOpt {
	return registryOpt(func(r *Registry) { r.log = l })
}

// WithShutdownTimeout bounds how long Run waits for requests in flight
// after its context ends. The default is 5 seconds.
func WithShutdownTimeout(d time.Duration) RegistryOpt {
	return registryOpt(func(r *Registry) { r.shutdown = d })
}

// BasicAuthOpt is WithBasicAuth's option; both a Registry (which then
// requires the credentials) and a Client (which then sends them) take it.
type BasicAuthOpt struct{ user, pass string }

// WithBasicAuth sets HTTP basic-auth credentials. On a Registry, requests
// without them get 401; on a Client, every request carries them. The
// default is no authentication. The user must not be empty.
func WithBasicAuth(user, pass string) BasicAuthOpt { return BasicAuthOpt{user, pass} }

func (o BasicAuthOpt) applyRegistry(r *Registry) { r.user, r.pass = o.user, o.pass }

func (o BasicAuthOpt) applyClient(c *Client) { c.user, c.pass = o.user, o.pass }

// OpenRegistry opens the registry kept in dir (created if missing) in the
// file StoreFile, as a FileStore. A torn last record from a crash is
// dropped and logged.
func OpenRegistry(ctx context.Context, dir string, opts ...RegistryOpt) (*Registry, error) {
	st, err := OpenFileStore(filepath.Join(dir, StoreFile))
	if err != nil {
		return nil, err
	}
	r, err := NewRegistry(ctx, st, opts...)
	if err != nil {
		st.Close()
		return nil, err
	}
	if n := st.Torn(); n > 0 {
		r.log.Warn("registry log ended in a torn record; dropped it", "path", st.Path(), "bytes", n)
	}
	return r, nil
}

// NewRegistry returns a registry over store, after loading every event in
// it. The registry owns store: Close closes it.
func NewRegistry(ctx context.Context, store Store, opts ...RegistryOpt) (*Registry, error) {
	r := &Registry{
		store:        store,
		log:          slog.New(slog.DiscardHandler),
		defaultLevel: Backward,
		shutdown:     5 * time.Second,
		byKey:        map[string]int{},
		byID:         map[int]*stored{},
		nextID:       1,
		subjects:     map[string]*subject{},
	}
	for _, o := range opts {
		o.applyRegistry(r)
	}
	var problems []error
	if r.pass != "" && r.user == "" {
		problems = append(problems, errors.New("schemas: basic auth needs a user"))
	}
	if r.log == nil {
		problems = append(problems, errors.New("schemas: WithLogger needs a logger"))
	}
	if r.shutdown <= 0 {
		problems = append(problems, fmt.Errorf("schemas: shutdown timeout %v is not positive", r.shutdown))
	}
	if _, err := ParseLevel(r.defaultLevel.String()); err != nil {
		problems = append(problems, fmt.Errorf("schemas: default level: %w", err))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	n := 0
	err := store.Load(ctx, func(e Event) error {
		n++
		if err := r.apply(e); err != nil {
			return fmt.Errorf("%w: event %d: %v", ErrCorruptStore, n, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.routes()
	return r, nil
}

// Close closes the registry's store. Requests after Close fail with 50001.
func (r *Registry) Close() error { return r.store.Close() }

// Run serves the registry's API on ln until ctx ends, then stops accepting,
// waits up to the shutdown timeout for requests in flight, and returns nil.
// It returns earlier with an error if serving fails. Every goroutine Run
// starts has ended when it returns; the registry stays open (see Close).
func (r *Registry) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("schemas: registry: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), r.shutdown)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("schemas: registry shutdown: %w", err), srv.Close())
	}
	<-done
	return err
}

// apply changes the in-memory state by one event. The caller holds mu for
// writing (or is NewRegistry, before anyone else can see r).
func (r *Registry) apply(e Event) error {
	switch e.Kind {
	case EventSchema:
		if e.Subject == "" || e.Version <= 0 || e.ID <= 0 {
			return fmt.Errorf("schema event needs a subject, a version and an id")
		}
		st := r.byID[e.ID]
		if st == nil {
			s, err := Parse(e.Schema)
			if err != nil {
				return fmt.Errorf("schema id %d: %w", e.ID, err)
			}
			key, err := schemaKey(e.Schema)
			if err != nil {
				return fmt.Errorf("schema id %d: %w", e.ID, err)
			}
			st = &stored{id: e.ID, text: s.String(), schema: s}
			r.byID[e.ID] = st
			r.byKey[key] = e.ID
			r.nextID = max(r.nextID, e.ID+1)
		}
		sub := r.subject(e.Subject)
		if i, ok := sub.find(e.Version); ok {
			return fmt.Errorf("subject %q already has version %d (id %d)", e.Subject, e.Version, sub.versions[i].id)
		}
		sub.versions = append(sub.versions, &version{n: e.Version, id: e.ID})
		slices.SortFunc(sub.versions, func(a, b *version) int { return a.n - b.n })
		st.refs++
	case EventDelete:
		sub := r.subjects[e.Subject]
		if sub == nil {
			return fmt.Errorf("delete of unknown subject %q", e.Subject)
		}
		for _, n := range e.Versions {
			i, ok := sub.find(n)
			if !ok {
				return fmt.Errorf("delete of unknown version %d of subject %q", n, e.Subject)
			}
			if !e.Permanent {
				sub.versions[i].deleted = true
				continue
			}
			r.byID[sub.versions[i].id].refs--
			sub.versions = slices.Delete(sub.versions, i, i+1)
		}
		if e.Permanent && len(sub.versions) == 0 {
			delete(r.subjects, e.Subject)
		}
	case EventConfig:
		var lp *Level
		if e.Level != "" {
			l, err := ParseLevel(e.Level)
			if err != nil {
				return err
			}
			lp = &l
		}
		if e.Subject == "" {
			r.global = lp
			return nil
		}
		r.subject(e.Subject).level = lp
	default:
		return fmt.Errorf("unknown event kind %q", e.Kind)
	}
	return nil
}

// subject returns the named subject, creating it.
func (r *Registry) subject(name string) *subject {
	sub := r.subjects[name]
	if sub == nil {
		sub = &subject{}
		r.subjects[name] = sub
	}
	return sub
}

// find returns the index of version n.
func (s *subject) find(n int) (int, bool) {
	return slices.BinarySearchFunc(s.versions, n, func(v *version, n int) int { return v.n - n })
}

// live returns the versions not soft-deleted (all of them if deleted).
func (s *subject) live(deleted bool) []*version {
	var out []*version
	for _, v := range s.versions {
		if deleted || !v.deleted {
			out = append(out, v)
		}
	}
	return out
}

// commit makes e durable, then applies it. The caller holds mu.
func (r *Registry) commit(ctx context.Context, op string, e Event) error {
	if err := r.store.Append(ctx, e); err != nil {
		r.log.Error("registry write failed", "op", op, "subject", e.Subject, "err", err)
		return &RegistryError{Op: op, Subject: e.Subject, Code: codeBackend, Message: "Error while storing the change: " + err.Error(), Err: ErrUnavailable}
	}
	if err := r.apply(e); err != nil {
		// Validation before Append makes this unreachable; report it loudly
		// rather than serve state that disagrees with the log.
		return &RegistryError{Op: op, Subject: e.Subject, Code: codeBackend, Message: err.Error(), Err: ErrUnavailable}
	}
	return nil
}

// levelOf returns the level that governs subject s (which may not exist).
func (r *Registry) levelOf(s string) Level {
	if sub := r.subjects[s]; sub != nil && sub.level != nil {
		return *sub.level
	}
	if r.global != nil {
		return *r.global
	}
	return r.defaultLevel
}

// schemaKey normalises schema JSON so that texts differing only in spacing
// or key order get the same id, as Confluent's registry does.
func schemaKey(text string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// schemaRequest is the body of register, lookup and compatibility requests.
type schemaRequest struct {
	Schema     string            `json:"schema"`
	SchemaType string            `json:"schemaType"`
	References []json.RawMessage `json:"references"`
}

// parseRequest validates a schema request: Avro only, no references, a
// schema that Parse accepts.
func parseRequest(op, subj string, req schemaRequest) (*Schema, string, error) {
	if t := req.SchemaType; t != "" && !strings.EqualFold(t, "AVRO") {
		return nil, "", &RegistryError{Op: op, Subject: subj, Code: codeInvalidSchema, Err: ErrInvalidSchema,
			Message: fmt.Sprintf("Invalid schema: schema type %q is not supported; reckon's registry stores AVRO schemas only", t)}
	}
	if len(req.References) > 0 {
		return nil, "", &RegistryError{Op: op, Subject: subj, Code: codeInvalidSchema, Err: ErrInvalidSchema,
			Message: "Invalid schema: schema references are not supported"}
	}
	s, err := Parse(req.Schema)
	if err != nil {
		return nil, "", &RegistryError{Op: op, Subject: subj, Code: codeInvalidSchema, Err: ErrInvalidSchema,
			Message: "Invalid schema: " + err.Error()}
	}
	key, err := schemaKey(req.Schema)
	if err != nil {
		return nil, "", &RegistryError{Op: op, Subject: subj, Code: codeInvalidSchema, Err: ErrInvalidSchema,
			Message: "Invalid schema: " + err.Error()}
	}
	return s, key, nil
}

// register adds s (normalised as key) to subj and returns its id. A schema
// the subject already has (not soft-deleted) returns its id unchanged.
func (r *Registry) register(ctx context.Context, subj string, s *Schema, key string) (int, error) {
	const op = "register"
	r.mu.Lock()
	defer r.mu.Unlock()
	id, known := r.byKey[key]
	sub := r.subjects[subj]
	var history []*Schema
	var numbers []int
	last := 0
	if sub != nil {
		for _, v := range sub.versions {
			last = v.n
			if v.deleted {
				continue
			}
			if known && v.id == id {
				return id, nil
			}
			history = append(history, r.byID[v.id].schema)
			numbers = append(numbers, v.n)
		}
	}
	if problems := versioned(Check(r.levelOf(subj), s, history), numbers); len(problems) > 0 {
		return 0, &RegistryError{Op: op, Subject: subj, Code: codeIncompatible, Err: ErrIncompatible,
			Message: fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q (%s): %s",
				subj, r.levelOf(subj), joinIncompatibilities(problems))}
	}
	if !known {
		id = r.nextID
	}
	e := Event{Kind: EventSchema, Subject: subj, Version: last + 1, ID: id, Schema: s.String()}
	if err := r.commit(ctx, op, e); err != nil {
		return 0, err
	}
	return id, nil
}

// versioned replaces the history positions Check reports with the subject
// version numbers they stand for.
func versioned(list []Incompatibility, numbers []int) []Incompatibility {
	for i := range list {
		if p := list[i].Version; p >= 1 && p <= len(numbers) {
			list[i].Version = numbers[p-1]
		}
	}
	return list
}

func joinIncompatibilities(list []Incompatibility) string {
	msgs := make([]string, len(list))
	for i, p := range list {
		msgs[i] = p.String()
	}
	return strings.Join(msgs, "; ")
}

func messages(list []Incompatibility) []string {
	msgs := make([]string, len(list)) // [] rather than null in JSON
	for i, p := range list {
		msgs[i] = p.String()
	}
	return msgs
}

// resolveVersion finds version spec ("latest", "-1" or a number) of subj.
func (r *Registry) resolveVersion(op, subj, spec string, deleted bool) (*version, error) {
	n, latest, err := parseVersion(op, subj, spec)
	if err != nil {
		return nil, err
	}
	sub := r.subjects[subj]
	var vs []*version
	if sub != nil {
		vs = sub.live(deleted)
	}
	if len(vs) == 0 {
		return nil, subjectNotFound(op, subj)
	}
	if latest {
		return vs[len(vs)-1], nil
	}
	for _, v := range vs {
		if v.n == n {
			return v, nil
		}
	}
	return nil, &RegistryError{Op: op, Subject: subj, Version: n, Code: codeVersionNotFound, Err: ErrNotFound,
		Message: fmt.Sprintf("Version %d not found.", n)}
}

func subjectNotFound(op, subj string) error {
	return &RegistryError{Op: op, Subject: subj, Code: codeSubjectNotFound, Err: ErrNotFound,
		Message: fmt.Sprintf("Subject '%s' not found.", subj)}
}

// parseVersion reads a version id: "latest" or -1 for the latest, or a
// number from 1 to 2^31-1.
func parseVersion(op, subj, spec string) (n int, latest bool, err error) {
	if spec == "latest" || spec == "-1" {
		return 0, true, nil
	}
	if _, err := fmt.Sscanf(spec, "%d", &n); err != nil || fmt.Sprint(n) != spec || n < 1 || n > 1<<31-1 {
		return 0, false, &RegistryError{Op: op, Subject: subj, Code: codeInvalidVersion, Err: ErrBadRequest,
			Message: fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", spec)}
	}
	return n, false, nil
}

// routes registers every endpoint of the API.
func (r *Registry) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, struct{}{}) })
	m.HandleFunc("GET /schemas/types", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, []string{"AVRO"}) })
	m.HandleFunc("GET /schemas/ids/{id}", r.getSchemaByID)
	m.HandleFunc("GET /schemas/ids/{id}/schema", r.getSchemaByID)
	m.HandleFunc("GET /schemas/ids/{id}/versions", r.getSchemaVersions)
	m.HandleFunc("GET /subjects", r.getSubjects)
	m.HandleFunc("POST /subjects/{subject}", r.postLookup)
	m.HandleFunc("DELETE /subjects/{subject}", r.deleteSubject)
	m.HandleFunc("GET /subjects/{subject}/versions", r.getVersions)
	m.HandleFunc("POST /subjects/{subject}/versions", r.postRegister)
	m.HandleFunc("GET /subjects/{subject}/versions/{version}", r.getVersion)
	m.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", r.getVersion)
	m.HandleFunc("DELETE /subjects/{subject}/versions/{version}", r.deleteVersion)
	m.HandleFunc("POST /compatibility/subjects/{subject}/versions", r.postCompatibility)
	m.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", r.postCompatibility)
	m.HandleFunc("GET /config", r.getConfig)
	m.HandleFunc("PUT /config", r.putConfig)
	m.HandleFunc("GET /config/{subject}", r.getConfig)
	m.HandleFunc("PUT /config/{subject}", r.putConfig)
	m.HandleFunc("DELETE /config/{subject}", r.deleteConfig)
	r.mux = m
}

// ServeHTTP serves the Confluent Schema Registry REST API. Every answer,
// errors included, is JSON with content type
// application/vnd.schemaregistry.v1+json; errors have Confluent's body
// {"error_code": …, "message": …}.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.user != "" {
		u, p, ok := req.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(r.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(r.pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="reckon schema registry"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{Code: codeUnauthorized, Message: "Unauthorized"})
			return
		}
	}
	if _, pattern := r.mux.Handler(req); pattern == "" {
		writeJSON(w, http.StatusNotFound, errorBody{Code: codeNotFound, Message: "HTTP 404 Not Found"})
		return
	}
	r.mux.ServeHTTP(w, req)
}

// mediaType is the content type of every answer.
const mediaType = "application/vnd.schemaregistry.v1+json"

type errorBody struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Code: codeBackend, Message: err.Error()})
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// writeError writes err as Confluent's error body.
func writeError(w http.ResponseWriter, err error) {
	var re *RegistryError
	if !errors.As(err, &re) {
		re = &RegistryError{Code: codeBackend, Message: err.Error()}
	}
	writeJSON(w, httpStatus(re.Code), errorBody{Code: re.Code, Message: re.Message})
}

// readBody decodes a JSON request body of at most 16 MiB into v.
func readBody(w http.ResponseWriter, req *http.Request, op, subj string, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, 16<<20))
	if err := dec.Decode(v); err != nil {
		return &RegistryError{Op: op, Subject: subj, Code: codeBadRequest, Err: ErrBadRequest,
			Message: "Invalid request body: " + err.Error()}
	}
	return nil
}

func queryFlag(req *http.Request, name string) bool {
	return strings.EqualFold(req.URL.Query().Get(name), "true")
}

type subjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

type versionBody struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

func (r *Registry) getSchemaByID(w http.ResponseWriter, req *http.Request) {
	const op = "get schema"
	var id int
	if _, err := fmt.Sscanf(req.PathValue("id"), "%d", &id); err != nil || fmt.Sprint(id) != req.PathValue("id") {
		writeError(w, &RegistryError{Op: op, Code: codeSchemaNotFound, Err: ErrUnknownSchema,
			Message: fmt.Sprintf("Schema %s not found", req.PathValue("id"))})
		return
	}
	r.mu.RLock()
	st := r.byID[id]
	r.mu.RUnlock()
	if st == nil || st.refs == 0 {
		writeError(w, &RegistryError{Op: op, ID: id, Code: codeSchemaNotFound, Err: ErrUnknownSchema,
			Message: fmt.Sprintf("Schema %d not found", id)})
		return
	}
	if strings.HasSuffix(req.URL.Path, "/schema") {
		w.Header().Set("Content-Type", mediaType)
		w.Write([]byte(st.text))
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Schema string `json:"schema"`
	}{st.text})
}

func (r *Registry) getSchemaVersions(w http.ResponseWriter, req *http.Request) {
	const op = "get schema versions"
	var id int
	fmt.Sscanf(req.PathValue("id"), "%d", &id)
	deleted := queryFlag(req, "deleted")
	r.mu.RLock()
	out := []subjectVersion{}
	if st := r.byID[id]; st != nil && st.refs > 0 {
		for name, sub := range r.subjects {
			for _, v := range sub.live(deleted) {
				if v.id == id {
					out = append(out, subjectVersion{name, v.n})
				}
			}
		}
	}
	r.mu.RUnlock()
	if len(out) == 0 {
		writeError(w, &RegistryError{Op: op, ID: id, Code: codeSchemaNotFound, Err: ErrUnknownSchema,
			Message: fmt.Sprintf("Schema %s not found", req.PathValue("id"))})
		return
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	writeJSON(w, http.StatusOK, out)
}

func (r *Registry) getSubjects(w http.ResponseWriter, req *http.Request) {
	deleted := queryFlag(req, "deleted")
	r.mu.RLock()
	out := []string{}
	for name, sub := range r.subjects {
		if len(sub.live(deleted)) > 0 {
			out = append(out, name)
		}
	}
	r.mu.RUnlock()
	sort.Strings(out)
	writeJSON(w, http.StatusOK, out)
}

func (r *Registry) getVersions(w http.ResponseWriter, req *http.Request) {
	subj := req.PathValue("subject")
	deleted := queryFlag(req, "deleted")
	r.mu.RLock()
	var vs []*version
	if sub := r.subjects[subj]; sub != nil {
		vs = sub.live(deleted)
	}
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.n
	}
	r.mu.RUnlock()
	if len(out) == 0 {
		writeError(w, subjectNotFound("get versions", subj))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (r *Registry) getVersion(w http.ResponseWriter, req *http.Request) {
	subj := req.PathValue("subject")
	r.mu.RLock()
	v, err := r.resolveVersion("get version", subj, req.PathValue("version"), queryFlag(req, "deleted"))
	var text string
	if err == nil {
		text = r.byID[v.id].text
	}
	r.mu.RUnlock()
	if err != nil {
		writeError(w, err)
		return
	}
	if strings.HasSuffix(req.URL.Path, "/schema") {
		w.Header().Set("Content-Type", mediaType)
		w.Write([]byte(text))
		return
	}
	writeJSON(w, http.StatusOK, versionBody{Subject: subj, Version: v.n, ID: v.id, Schema: text})
}

func (r *Registry) postRegister(w http.ResponseWriter, req *http.Request) {
	const op = "register"
	subj := req.PathValue("subject")
	var body schemaRequest
	if err := readBody(w, req, op, subj, &body); err != nil {
		writeError(w, err)
		return
	}
	s, key, err := parseRequest(op, subj, body)
	if err != nil {
		writeError(w, err)
		return
	}
	id, err := r.register(req.Context(), subj, s, key)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ID int `json:"id"`
	}{id})
}

func (r *Registry) postLookup(w http.ResponseWriter, req *http.Request) {
	const op = "lookup"
	subj := req.PathValue("subject")
	var body schemaRequest
	if err := readBody(w, req, op, subj, &body); err != nil {
		writeError(w, err)
		return
	}
	_, key, err := parseRequest(op, subj, body)
	if err != nil {
		writeError(w, err)
		return
	}
	deleted := queryFlag(req, "deleted")
	r.mu.RLock()
	var found *version
	var vs []*version
	if sub := r.subjects[subj]; sub != nil {
		vs = sub.live(deleted)
	}
	if id, ok := r.byKey[key]; ok {
		for _, v := range vs {
			if v.id == id {
				found = v
			}
		}
	}
	var text string
	if found != nil {
		text = r.byID[found.id].text
	}
	r.mu.RUnlock()
	switch {
	case len(vs) == 0:
		writeError(w, subjectNotFound(op, subj))
	case found == nil:
		writeError(w, &RegistryError{Op: op, Subject: subj, Code: codeSchemaNotFound, Err: ErrUnknownSchema,
			Message: "Schema not found"})
	default:
		writeJSON(w, http.StatusOK, versionBody{Subject: subj, Version: found.n, ID: found.id, Schema: text})
	}
}

func (r *Registry) deleteSubject(w http.ResponseWriter, req *http.Request) {
	const op = "delete subject"
	subj := req.PathValue("subject")
	permanent := queryFlag(req, "permanent")
	r.mu.Lock()
	defer r.mu.Unlock()
	sub := r.subjects[subj]
	if sub == nil || len(sub.versions) == 0 {
		writeError(w, subjectNotFound(op, subj))
		return
	}
	var ns []int
	for _, v := range sub.versions {
		switch {
		case permanent && !v.deleted:
			writeError(w, &RegistryError{Op: op, Subject: subj, Code: codeSubjectNotSoftDeleted, Err: ErrBadRequest,
				Message: fmt.Sprintf("Subject '%s' was not deleted first before being permanently deleted", subj)})
			return
		case permanent || !v.deleted:
			ns = append(ns, v.n)
		}
	}
	if len(ns) == 0 {
		writeError(w, &RegistryError{Op: op, Subject: subj, Code: codeSubjectSoftDeleted, Err: ErrNotFound,
			Message: fmt.Sprintf("Subject '%s' was soft deleted. Set permanent=true to delete permanently", subj)})
		return
	}
	if err := r.commit(req.Context(), op, Event{Kind: EventDelete, Subject: subj, Versions: ns, Permanent: permanent}); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ns)
}

func (r *Registry) deleteVersion(w http.ResponseWriter, req *http.Request) {
	const op = "delete version"
	subj := req.PathValue("subject")
	permanent := queryFlag(req, "permanent")
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.resolveVersion(op, subj, req.PathValue("version"), true)
	if err != nil {
		writeError(w, err)
		return
	}
	switch {
	case permanent && !v.deleted:
		writeError(w, &RegistryError{Op: op, Subject: subj, Version: v.n, Code: codeVersionNotSoftDeleted, Err: ErrBadRequest,
			Message: fmt.Sprintf("Subject '%s' Version %d was not deleted first before being permanently deleted", subj, v.n)})
		return
	case !permanent && v.deleted:
		writeError(w, &RegistryError{Op: op, Subject: subj, Version: v.n, Code: codeVersionSoftDeleted, Err: ErrNotFound,
			Message: fmt.Sprintf("Subject '%s' Version %d was soft deleted. Set permanent=true to delete permanently", subj, v.n)})
		return
	}
	if err := r.commit(req.Context(), op, Event{Kind: EventDelete, Subject: subj, Versions: []int{v.n}, Permanent: permanent}); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v.n)
}

func (r *Registry) postCompatibility(w http.ResponseWriter, req *http.Request) {
	const op = "test compatibility"
	subj := req.PathValue("subject")
	var body schemaRequest
	if err := readBody(w, req, op, subj, &body); err != nil {
		writeError(w, err)
		return
	}
	s, _, err := parseRequest(op, subj, body)
	if err != nil {
		writeError(w, err)
		return
	}
	r.mu.RLock()
	level := r.levelOf(subj)
	var against []*Schema
	var numbers []int
	if spec := req.PathValue("version"); spec != "" {
		// One named version, as Confluent's registry does.
		v, verr := r.resolveVersion(op, subj, spec, false)
		if verr == nil {
			against, numbers = []*Schema{r.byID[v.id].schema}, []int{v.n}
		}
		err = verr
	} else if sub := r.subjects[subj]; sub != nil {
		for _, v := range sub.live(false) {
			against = append(against, r.byID[v.id].schema)
			numbers = append(numbers, v.n)
		}
	}
	r.mu.RUnlock()
	if err != nil {
		writeError(w, err)
		return
	}
	problems := versioned(Check(level, s, against), numbers)
	resp := map[string]any{"is_compatible": len(problems) == 0}
	if queryFlag(req, "verbose") {
		resp["messages"] = messages(problems)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (r *Registry) getConfig(w http.ResponseWriter, req *http.Request) {
	subj := req.PathValue("subject")
	r.mu.RLock()
	level := r.levelOf(subj)
	unset := subj != "" && (r.subjects[subj] == nil || r.subjects[subj].level == nil)
	r.mu.RUnlock()
	if unset && !queryFlag(req, "defaultToGlobal") {
		writeError(w, &RegistryError{Op: "get config", Subject: subj, Code: codeSubjectLevelNotSet, Err: ErrNotFound,
			Message: fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subj)})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Level string `json:"compatibilityLevel"`
	}{level.String()})
}

func (r *Registry) putConfig(w http.ResponseWriter, req *http.Request) {
	const op = "set config"
	subj := req.PathValue("subject")
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if err := readBody(w, req, op, subj, &body); err != nil {
		writeError(w, err)
		return
	}
	level, err := ParseLevel(strings.ToUpper(body.Compatibility))
	if err != nil {
		writeError(w, &RegistryError{Op: op, Subject: subj, Code: codeInvalidLevel, Err: ErrBadRequest,
			Message: fmt.Sprintf("Invalid compatibility level %q. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive", body.Compatibility)})
		return
	}
	r.mu.Lock()
	err = r.commit(req.Context(), op, Event{Kind: EventConfig, Subject: subj, Level: level.String()})
	r.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Compatibility string `json:"compatibility"`
	}{level.String()})
}

func (r *Registry) deleteConfig(w http.ResponseWriter, req *http.Request) {
	const op = "delete config"
	subj := req.PathValue("subject")
	r.mu.Lock()
	defer r.mu.Unlock()
	sub := r.subjects[subj]
	if sub == nil || sub.level == nil {
		writeError(w, &RegistryError{Op: op, Subject: subj, Code: codeSubjectLevelNotSet, Err: ErrNotFound,
			Message: fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subj)})
		return
	}
	prev := *sub.level
	if err := r.commit(req.Context(), op, Event{Kind: EventConfig, Subject: subj}); err != nil {
		writeError(w, err)
		return
	}
	// Confluent's documentation and its clients disagree on the key of the
	// level this answer returns; give both.
	writeJSON(w, http.StatusOK, struct {
		Level         string `json:"compatibilityLevel"`
		Compatibility string `json:"compatibility"`
	}{prev.String(), prev.String()})
}
