package projections

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"golang.org/x/sync/errgroup"
	"gopkg.in/inf.v0"

	"github.com/reckon-dev/reckon/operators"
)

// Cassandra is the projection store on Apache Cassandra (or a compatible
// database), through the gocql driver.
//
// Writes are prepared INSERT and DELETE statements stamped USING TIMESTAMP
// with the write's version, so Cassandra's per-cell last-write-wins
// applies the store's rule (a delete wins a tie, as tombstones do). They
// are marked idempotent and retried with exponential backoff on timeouts,
// unavailable and overloaded nodes and lost connections; a failure that
// outlasts the retries is returned. Writes of one partition are grouped
// into UNLOGGED batches below 5 KiB; at most MaxInFlight statements are
// in flight, and Apply waits for room (back-pressure). Requests go to a
// replica of the partition (token aware), in the local data center first
// (DC-aware round robin).
//
// The live pointer of a projection is one row of reckon_live, changed only
// by lightweight transactions (compare-and-set on its epoch).
type Cassandra struct {
	session *gocql.Session
	cfg     CassandraConfig
	ks      string
	now     func() time.Time
	cl      gocql.Consistency
	serial  gocql.Consistency
	sem     chan struct{}

	mu     sync.Mutex
	tables map[string]*cqlTable
}

type cqlTable struct {
	name     string
	cols     []Column
	keys     []Column
	pos      positions
	nPart    int
	upsert   string
	del      string
	get      string
	scan     string
	countKey string
}

// OpenCassandra connects to the cluster of cfg, creates the keyspace and
// the catalog tables when absent, and returns the store. Options:
// WithClock, WithLogger.
func OpenCassandra(ctx context.Context, cfg CassandraConfig, opts ...Opt) (*Cassandra, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cl, _ := gocql.ParseConsistencyWrapper(cfg.Consistency)
	serial, _ := gocql.ParseConsistencyWrapper(cfg.SerialConsistency)

	cluster := gocql.NewCluster(cfg.Hosts...)
	cluster.Port = cfg.Port
	cluster.ProtoVersion = 4
	cluster.Consistency = cl
	cluster.SerialConsistency = serial
	cluster.Timeout = cfg.Timeout
	cluster.ConnectTimeout = cfg.ConnectTimeout
	cluster.NumConns = cfg.NumConns
	cluster.ReconnectInterval = time.Second
	// Frames go out at once: a flush keeps many requests in flight, and
	// the driver's default 200µs wait only adds latency to each.
	cluster.WriteCoalesceWaitTime = 0
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(cfg.LocalDC))
	// Retries are the store's (see exec): one layer, with backoff.
	cluster.RetryPolicy = nil
	if o.logger != nil {
		cluster.Logger = slogLogger{o.logger}
	}
	if cfg.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: cfg.Username, Password: cfg.Password}
	}
	if cfg.TLS.Enabled {
		tc, err := cfg.TLS.config()
		if err != nil {
			return nil, err
		}
		cluster.SslOpts = &gocql.SslOptions{Config: tc, EnableHostVerification: true}
	}
	session, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("projections: cassandra %s: %w", strings.Join(cfg.Hosts, ","), err)
	}
	s := &Cassandra{
		session: session, cfg: cfg, ks: cfg.Keyspace, now: o.now, cl: cl, serial: serial,
		sem: make(chan struct{}, cfg.MaxInFlight), tables: map[string]*cqlTable{},
	}
	if !o.create {
		return s, nil
	}
	if err := s.init(ctx); err != nil {
		session.Close()
		return nil, fmt.Errorf("projections: cassandra keyspace %s: %w", cfg.Keyspace, err)
	}
	return s, nil
}

func (c TLSConfig) config() (*tls.Config, error) {
	tc := &tls.Config{ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
	var ps []ConfigProblem
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			ps = append(ps, ConfigProblem{Key: "tls_ca", Problem: err.Error(), Fix: "name a readable PEM file"})
		case !pool.AppendCertsFromPEM(pem):
			ps = append(ps, ConfigProblem{Key: "tls_ca", Problem: c.CAFile + " holds no PEM certificate", Fix: "name a PEM file of CA certificates"})
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			ps = append(ps, ConfigProblem{Key: "tls_cert", Problem: err.Error(), Fix: "name a PEM certificate and its key"})
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if len(ps) > 0 {
		return nil, &ConfigError{Problems: ps}
	}
	return tc, nil
}

// Close closes the session and its connections, which stops the driver's
// goroutines; the driver does not wait for them to exit.
func (s *Cassandra) Close() error {
	s.session.Close()
	return nil
}

func (s *Cassandra) q(name string) string { return s.ks + "." + name }

func (s *Cassandra) init(ctx context.Context) error {
	stmts := []string{
		"CREATE KEYSPACE IF NOT EXISTS " + s.ks + " WITH replication = " + s.cfg.Replication.replicationCQL(),
		`CREATE TABLE IF NOT EXISTS ` + s.q(versionsTable) + ` (
	projection text, version int, table_name text, state text, graph_name text, fingerprint text,
	source text, row_count bigint, columns text, created_at timestamp, updated_at timestamp,
	PRIMARY KEY (projection, version))`,
		`CREATE TABLE IF NOT EXISTS ` + s.q(liveTable) + ` (
	projection text PRIMARY KEY, live int, state text, epoch bigint, updated_at timestamp)`,
	}
	for _, stmt := range stmts {
		if err := s.exec(ctx, func(ctx context.Context) error { return s.session.Query(stmt).Idempotent(true).ExecContext(ctx) }); err != nil {
			return err
		}
	}
	return nil
}

// exec runs an idempotent request, retrying it with backoff while it
// fails with a retryable error (see retryable).
func (s *Cassandra) exec(ctx context.Context, run func(context.Context) error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = run(ctx); err == nil || !retryable(err) {
			return err
		}
		if attempt >= s.cfg.Retries {
			return fmt.Errorf("%d attempts: %w", attempt+1, err)
		}
		// Exponential backoff with full jitter in [d/2, d].
		d := min(s.cfg.RetryMin<<attempt, s.cfg.RetryMax)
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		}
	}
}

// retryable says whether a failed idempotent request may succeed when
// sent again: server timeouts, unavailable or overloaded replicas, and
// lost or missing connections. Invalid requests, authentication errors and
// cancelled contexts are not retried.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var (
		wt  *gocql.RequestErrWriteTimeout
		rt  *gocql.RequestErrReadTimeout
		un  *gocql.RequestErrUnavailable
		ov  *gocql.RequestErrOverloaded
		bo  *gocql.RequestErrBootstrapping
		net net.Error
	)
	switch {
	case errors.As(err, &wt), errors.As(err, &rt), errors.As(err, &un), errors.As(err, &ov), errors.As(err, &bo),
		errors.As(err, &net):
		return true
	case errors.Is(err, gocql.ErrNoConnections), errors.Is(err, gocql.ErrConnectionClosed),
		errors.Is(err, gocql.ErrTimeoutNoResponse), errors.Is(err, gocql.ErrNoStreams),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	return false
}

func cqlType(t operators.ColumnType) string {
	switch t {
	case operators.TypeTextList:
		return "list<text>"
	case operators.TypeTextMap:
		return "map<text, text>"
	}
	return t.String()
}

func (s *Cassandra) newTable(name string, cols []Column) *cqlTable {
	t := &cqlTable{name: name, cols: cols, keys: keyColumns(cols)}
	var names, marks, conds []string
	for _, c := range cols {
		names = append(names, c.Name)
		marks = append(marks, "?")
		if c.Kind == kindPartition {
			t.nPart++
		}
	}
	for _, c := range t.keys {
		conds = append(conds, c.Name+" = ?")
	}
	tn := s.q(name)
	t.upsert = "INSERT INTO " + tn + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ") USING TIMESTAMP ?"
	t.del = "DELETE FROM " + tn + " USING TIMESTAMP ? WHERE " + strings.Join(conds, " AND ")
	t.get = "SELECT " + strings.Join(names, ", ") + " FROM " + tn + " WHERE " + strings.Join(conds, " AND ")
	t.scan = "SELECT " + strings.Join(names, ", ") + " FROM " + tn
	t.countKey = "SELECT " + t.keys[0].Name + " FROM " + tn
	return t
}

func (t *cqlTable) createCQL(tn string) string {
	var defs, part, clust []string
	for _, c := range t.cols {
		defs = append(defs, c.Name+" "+cqlType(c.Type))
		switch c.Kind {
		case kindPartition:
			part = append(part, c.Name)
		case kindClustering:
			clust = append(clust, c.Name)
		}
	}
	pk := "(" + strings.Join(part, ", ") + ")"
	if len(clust) > 0 {
		pk += ", " + strings.Join(clust, ", ")
	}
	return "CREATE TABLE IF NOT EXISTS " + tn + " (" + strings.Join(defs, ", ") + ", PRIMARY KEY (" + pk + "))"
}

// cassandraVersion is a catalog row.
type cassandraVersion struct {
	info  VersionInfo
	state Status
}

const cassandraVersionCols = "projection, version, table_name, state, graph_name, fingerprint, source, row_count, columns, created_at, updated_at"

func (s *Cassandra) readVersions(ctx context.Context, projection string, version int) ([]cassandraVersion, error) {
	q := "SELECT " + cassandraVersionCols + " FROM " + s.q(versionsTable)
	var args []any
	switch {
	case projection != "" && version > 0:
		q += " WHERE projection = ? AND version = ?"
		args = append(args, projection, version)
	case projection != "":
		q += " WHERE projection = ?"
		args = append(args, projection)
	}
	var out []cassandraVersion
	err := s.exec(ctx, func(ctx context.Context) error {
		out = out[:0]
		iter := s.session.Query(q, args...).Idempotent(true).IterContext(ctx)
		var (
			v                   cassandraVersion
			state, source, cols string
			created, updated    time.Time
		)
		for iter.Scan(&v.info.Projection, &v.info.Version, &v.info.Table, &state, &v.info.GraphName, &v.info.Fingerprint,
			&source, &v.info.Rows, &cols, &created, &updated) {
			v.state = Status(state)
			v.info.Status = v.state
			v.info.Created, v.info.Updated = created.UTC(), updated.UTC()
			v.info.Source, v.info.Columns = SourceRange{}, nil
			if err := json.Unmarshal([]byte(source), &v.info.Source); err != nil {
				iter.Close()
				return fmt.Errorf("catalog source of %s: %w", v.info.Table, err)
			}
			if err := json.Unmarshal([]byte(cols), &v.info.Columns); err != nil {
				iter.Close()
				return fmt.Errorf("catalog columns of %s: %w", v.info.Table, err)
			}
			out = append(out, v)
		}
		return iter.Close()
	})
	return out, err
}

func (s *Cassandra) version(ctx context.Context, projection string, version int) (cassandraVersion, bool, error) {
	vs, err := s.readVersions(ctx, projection, version)
	if err != nil || len(vs) == 0 {
		return cassandraVersion{}, false, err
	}
	return vs[0], true, nil
}

// pointer reads the live pointer and its epoch (0 when there is none),
// at the serial consistency so that it sees every committed transaction.
func (s *Cassandra) pointer(ctx context.Context, projection string) (pointer, int64, error) {
	var state string
	var epoch int64
	err := s.exec(ctx, func(ctx context.Context) error {
		err := s.session.Query("SELECT state, epoch FROM "+s.q(liveTable)+" WHERE projection = ?", projection).
			Consistency(s.serial).Idempotent(true).ScanContext(ctx, &state, &epoch)
		if errors.Is(err, gocql.ErrNotFound) {
			state, epoch = "", 0
			return nil
		}
		return err
	})
	if err != nil || state == "" {
		return pointer{}, 0, err
	}
	var p pointer
	if err := json.Unmarshal([]byte(state), &p); err != nil {
		return pointer{}, 0, fmt.Errorf("live pointer of %s: %w", projection, err)
	}
	return p, epoch, nil
}

// Create implements Store.
func (s *Cassandra) Create(ctx context.Context, spec *operators.TableSpec, g Graph) (VersionInfo, error) {
	if err := checkCreate(spec, g); err != nil {
		return VersionInfo{}, err
	}
	info, err := s.create(ctx, spec, g)
	return info, wrapVersion("create", spec.Name, g.Version, err)
}

func (s *Cassandra) create(ctx context.Context, spec *operators.TableSpec, g Graph) (VersionInfo, error) {
	name := TableName(spec.Name, g.Version)
	want := columnsOf(spec)
	row, found, err := s.version(ctx, spec.Name, g.Version)
	if err != nil {
		return VersionInfo{}, err
	}
	if !found {
		t := s.newTable(name, want)
		ddl := t.createCQL(s.q(name))
		if err := s.exec(ctx, func(ctx context.Context) error { return s.session.Query(ddl).Idempotent(true).ExecContext(ctx) }); err != nil {
			return VersionInfo{}, &TableError{Op: "create", Table: name, Err: err}
		}
		src, _ := json.Marshal(SourceRange{})
		cols, _ := json.Marshal(want)
		now := s.now().UTC()
		// IF NOT EXISTS: of concurrent creators, one registers the version.
		if _, err := s.session.Query("INSERT INTO "+s.q(versionsTable)+" ("+cassandraVersionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) IF NOT EXISTS",
			spec.Name, g.Version, name, string(StatusBuilding), g.Name, g.Fingerprint, string(src), string(cols), now, now).
			SerialConsistency(s.serial).MapScanCASContext(ctx, map[string]any{}); err != nil {
			return VersionInfo{}, err
		}
		if row, found, err = s.version(ctx, spec.Name, g.Version); err != nil {
			return VersionInfo{}, err
		}
		if !found {
			return VersionInfo{}, &VersionError{Op: "create", Projection: spec.Name, Version: g.Version, Err: ErrUnknownVersion}
		}
	}
	if row.info.Fingerprint != g.Fingerprint {
		return VersionInfo{}, &VersionError{Op: "create", Projection: spec.Name, Version: g.Version, Err: fmt.Errorf(
			"%w: %s v%d was built by graph %s fingerprint %s, not %s %s; give the changed graph a new version",
			ErrFingerprint, spec.Name, g.Version, row.info.GraphName, row.info.Fingerprint, g.Name, g.Fingerprint)}
	}
	merged, added, err := mergeColumns(name, row.info.Columns, want)
	if err != nil {
		return VersionInfo{}, err
	}
	for _, c := range added {
		// A column may exist already: added by a concurrent creator, or by
		// an earlier attempt that failed before updating the catalog.
		probe := "SELECT " + c.Name + " FROM " + s.q(name) + " LIMIT 1"
		if s.session.Query(probe).ExecContext(ctx) == nil {
			continue
		}
		alter := "ALTER TABLE " + s.q(name) + " ADD " + c.Name + " " + cqlType(c.Type)
		if err := s.exec(ctx, func(ctx context.Context) error { return s.session.Query(alter).Idempotent(true).ExecContext(ctx) }); err != nil {
			return VersionInfo{}, &TableError{Op: "create", Table: name, Err: err}
		}
	}
	if len(added) > 0 {
		cols, _ := json.Marshal(merged)
		if err := s.exec(ctx, func(ctx context.Context) error {
			return s.session.Query("UPDATE "+s.q(versionsTable)+" SET columns = ?, updated_at = ? WHERE projection = ? AND version = ?",
				string(cols), s.now().UTC(), spec.Name, g.Version).Idempotent(true).ExecContext(ctx)
		}); err != nil {
			return VersionInfo{}, err
		}
		row.info.Columns = merged
	}
	p, _, err := s.pointer(ctx, spec.Name)
	if err != nil {
		return VersionInfo{}, err
	}
	s.mu.Lock()
	s.tables[name] = s.newTable(name, merged)
	s.mu.Unlock()
	info := row.info
	info.Status = p.status(g.Version, row.state)
	return info, nil
}

// table returns the cached table, loading it from the catalog.
func (s *Cassandra) table(ctx context.Context, name string) (*cqlTable, error) {
	s.mu.Lock()
	t, ok := s.tables[name]
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	projection, version, ok := parseTableName(name)
	if !ok {
		return nil, ErrUnknownTable
	}
	row, found, err := s.version(ctx, projection, version)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownTable
	}
	t = s.newTable(name, row.info.Columns)
	s.mu.Lock()
	s.tables[name] = t
	s.mu.Unlock()
	return t, nil
}

// parseTableName splits <projection>_v<N>.
func parseTableName(name string) (string, int, bool) {
	i := strings.LastIndex(name, "_v")
	if i <= 0 {
		return "", 0, false
	}
	v, err := strconv.Atoi(name[i+2:])
	if err != nil || v < 1 || strconv.Itoa(v) != name[i+2:] {
		return "", 0, false
	}
	return name[:i], v, true
}

// cqlValue converts a normalized value to what gocql binds.
func cqlValue(c Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Type {
	case operators.TypeUUID:
		return gocql.ParseUUID(v.(string))
	case operators.TypeDecimal:
		scale, _ := decimalScale(v.(*big.Rat))
		return inf.NewDecBig(decimalUnscaled(v.(*big.Rat)), inf.Scale(scale)), nil
	}
	return v, nil
}

// cqlDest returns the scan destination of a column: a pointer to a
// pointer, which the driver sets to nil for a null.
func cqlDest(t operators.ColumnType) any {
	switch t {
	case operators.TypeText:
		return new(*string)
	case operators.TypeBigInt:
		return new(*int64)
	case operators.TypeInt:
		return new(*int32)
	case operators.TypeDouble:
		return new(*float64)
	case operators.TypeBoolean:
		return new(*bool)
	case operators.TypeTimestamp:
		return new(*time.Time)
	case operators.TypeBlob:
		return new(*[]byte)
	case operators.TypeDecimal:
		return new(*inf.Dec)
	case operators.TypeUUID:
		return new(*gocql.UUID)
	case operators.TypeTextList:
		return new(*[]string)
	case operators.TypeTextMap:
		return new(*map[string]string)
	}
	return new(any)
}

// fromCQL converts a scanned destination (see cqlDest) to the column's Go
// value.
func fromCQL(c Column, dest any) (any, error) {
	p := reflect.ValueOf(dest).Elem()
	if p.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("column %s (%s): unexpected destination %T", c.Name, c.Type, dest)
	}
	if p.IsNil() {
		return nil, nil
	}
	v := p.Elem().Interface()
	if d, ok := v.(inf.Dec); ok {
		v = &d
	}
	switch c.Type {
	case operators.TypeText:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case operators.TypeBigInt:
		if n, ok := v.(int64); ok {
			return n, nil
		}
	case operators.TypeInt:
		switch n := v.(type) {
		case int:
			return int32(n), nil
		case int32:
			return n, nil
		}
	case operators.TypeDouble:
		if f, ok := v.(float64); ok {
			return f, nil
		}
	case operators.TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case operators.TypeTimestamp:
		if t, ok := v.(time.Time); ok {
			if t.IsZero() {
				return nil, nil
			}
			return t.UTC(), nil
		}
	case operators.TypeBlob:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
	case operators.TypeDecimal:
		if d, ok := v.(*inf.Dec); ok {
			r := new(big.Rat).SetInt(d.UnscaledBig())
			scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale())), nil)
			return r.Quo(r, new(big.Rat).SetInt(scale)), nil
		}
	case operators.TypeUUID:
		if u, ok := v.(gocql.UUID); ok {
			return u.String(), nil
		}
	case operators.TypeTextList:
		if l, ok := v.([]string); ok {
			if len(l) == 0 {
				return nil, nil
			}
			return l, nil
		}
	case operators.TypeTextMap:
		if m, ok := v.(map[string]string); ok {
			if len(m) == 0 {
				return nil, nil
			}
			return m, nil
		}
	}
	return nil, fmt.Errorf("column %s (%s): unexpected %T from the driver", c.Name, c.Type, v)
}

// boundWrite is a write ready to execute.
type boundWrite struct {
	stmt string
	args []any
}

// bind validates and binds writes, so that a bad value fails the call
// before anything is sent.
func (t *cqlTable) bind(writes []Write) ([]boundWrite, []plannedWrite, error) {
	bound := make([]boundWrite, len(writes))
	plan := make([]plannedWrite, len(writes))
	for i, w := range writes {
		key, err := normalizeKey(t.name, t.keys, w.Key)
		if err != nil {
			return nil, nil, err
		}
		part, err := operators.EncodeKey(key[:t.nPart])
		if err != nil {
			return nil, nil, err
		}
		plan[i].partition = part
		if w.Delete {
			args := []any{w.Version}
			for j, c := range t.keys {
				v, err := cqlValue(c, key[j])
				if err != nil {
					return nil, nil, &ValueError{Table: t.name, Column: c.Name, Type: c.Type.String(), Value: key[j], Reason: err.Error()}
				}
				args = append(args, v)
			}
			bound[i] = boundWrite{stmt: t.del, args: args}
			plan[i].size = statementSize(t.keys, key)
			continue
		}
		vals := make([]any, len(t.cols))
		args := make([]any, 0, len(t.cols)+1)
		var pos []int
		if w.Columns != nil {
			pos = t.pos.of(t.cols, w.Columns)
		}
		for j, c := range t.cols {
			if c.Kind != kindValue {
				vals[j] = key[j]
			} else if vals[j], err = normalize(t.name, c, w.value(pos, j, c.Name)); err != nil {
				return nil, nil, err
			}
			v, err := cqlValue(c, vals[j])
			if err != nil {
				return nil, nil, &ValueError{Table: t.name, Column: c.Name, Type: c.Type.String(), Value: vals[j], Reason: err.Error()}
			}
			args = append(args, v)
		}
		bound[i] = boundWrite{stmt: t.upsert, args: append(args, w.Version)}
		plan[i].size = statementSize(t.cols, vals)
	}
	return bound, plan, nil
}

// Apply implements Store. Writes go out as single-partition UNLOGGED
// batches (planBatches), concurrently up to MaxInFlight; Apply returns
// when all are acknowledged, or the first error once the others ended.
func (s *Cassandra) Apply(ctx context.Context, table string, writes []Write) error {
	if len(writes) == 0 {
		return nil
	}
	t, err := s.table(ctx, table)
	if err != nil {
		return &TableError{Op: "apply", Table: table, Err: err}
	}
	bound, plan, err := t.bind(writes)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, group := range planBatches(plan, maxBatchBytes) {
		select {
		case s.sem <- struct{}{}:
		case <-gctx.Done():
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			defer func() { <-s.sem }()
			return s.exec(gctx, func(ctx context.Context) error { return s.execGroup(ctx, bound, group) })
		})
	}
	err = g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return &TableError{Op: "apply", Table: table, Err: err}
	}
	return nil
}

func (s *Cassandra) execGroup(ctx context.Context, bound []boundWrite, group []int) error {
	if len(group) == 1 {
		w := bound[group[0]]
		return s.session.Query(w.stmt, w.args...).Idempotent(true).ExecContext(ctx)
	}
	b := s.session.Batch(gocql.UnloggedBatch)
	for _, i := range group {
		b.Entries = append(b.Entries, gocql.BatchEntry{Stmt: bound[i].stmt, Args: bound[i].args, Idempotent: true})
	}
	return b.ExecContext(ctx)
}

func (t *cqlTable) scanRow(iter *gocql.Iter) (Row, bool, error) {
	dests := make([]any, len(t.cols))
	for i, c := range t.cols {
		dests[i] = cqlDest(c.Type)
	}
	if !iter.Scan(dests...) {
		return nil, false, nil
	}
	r := make(Row, len(t.cols))
	for i, c := range t.cols {
		v, err := fromCQL(c, dests[i])
		if err != nil {
			return nil, false, err
		}
		r[c.Name] = v
	}
	return r, true, nil
}

// Get implements Store.
func (s *Cassandra) Get(ctx context.Context, table string, key []any) (Row, bool, error) {
	t, err := s.table(ctx, table)
	if err != nil {
		return nil, false, &TableError{Op: "get", Table: table, Err: err}
	}
	k, err := normalizeKey(table, t.keys, key)
	if err != nil {
		return nil, false, err
	}
	args := make([]any, len(k))
	for i, c := range t.keys {
		if args[i], err = cqlValue(c, k[i]); err != nil {
			return nil, false, &ValueError{Table: table, Column: c.Name, Type: c.Type.String(), Value: k[i], Reason: err.Error()}
		}
	}
	var row Row
	var found bool
	err = s.exec(ctx, func(ctx context.Context) error {
		iter := s.session.Query(t.get, args...).Idempotent(true).IterContext(ctx)
		var err error
		row, found, err = t.scanRow(iter)
		if err != nil {
			iter.Close()
			return err
		}
		return iter.Close()
	})
	if err != nil {
		return nil, false, &TableError{Op: "get", Table: table, Err: err}
	}
	return row, found, nil
}

// Scan implements Store. It pages through the table in token order.
func (s *Cassandra) Scan(ctx context.Context, table string, fn func(Row) error) error {
	t, err := s.table(ctx, table)
	if err != nil {
		return &TableError{Op: "scan", Table: table, Err: err}
	}
	var fnErr error
	var page []byte
	for {
		var next []byte
		// Each page is one request, retried on its own.
		err := s.exec(ctx, func(ctx context.Context) error {
			iter := s.session.Query(t.scan).Idempotent(true).PageState(page).PageSize(5000).IterContext(ctx)
			for n := iter.NumRows(); n > 0; n-- {
				r, ok, err := t.scanRow(iter)
				if err != nil || !ok {
					iter.Close()
					return err
				}
				if fnErr = fn(r); fnErr != nil {
					break
				}
			}
			next = iter.PageState()
			return iter.Close()
		})
		switch {
		case fnErr != nil:
			return fnErr
		case err != nil:
			return &TableError{Op: "scan", Table: table, Err: err}
		case len(next) == 0:
			return nil
		}
		page = next
	}
}

// count counts the rows of table by paging through its first key column
// (COUNT(*) would run in one request, which times out on large tables).
func (s *Cassandra) count(ctx context.Context, table string) (int64, error) {
	t, err := s.table(ctx, table)
	if err != nil {
		return 0, &TableError{Op: "count", Table: table, Err: err}
	}
	var n int64
	var page []byte
	for {
		var next []byte
		var rows int
		err := s.exec(ctx, func(ctx context.Context) error {
			iter := s.session.Query(t.countKey).Idempotent(true).PageState(page).PageSize(5000).IterContext(ctx)
			rows, next = iter.NumRows(), iter.PageState()
			return iter.Close()
		})
		if err != nil {
			return 0, &TableError{Op: "count", Table: table, Err: err}
		}
		n += int64(rows)
		if len(next) == 0 {
			return n, nil
		}
		page = next
	}
}

// MarkReady implements Store.
func (s *Cassandra) MarkReady(ctx context.Context, projection string, version int, src SourceRange) (VersionInfo, error) {
	info, err := s.markReady(ctx, projection, version, src)
	return info, wrapVersion("ready", projection, version, err)
}

func (s *Cassandra) markReady(ctx context.Context, projection string, version int, src SourceRange) (VersionInfo, error) {
	row, found, err := s.version(ctx, projection, version)
	if err != nil {
		return VersionInfo{}, err
	}
	if !found {
		return VersionInfo{}, &VersionError{Op: "ready", Projection: projection, Version: version, Err: ErrUnknownVersion}
	}
	p, _, err := s.pointer(ctx, projection)
	if err != nil {
		return VersionInfo{}, err
	}
	if st := p.status(version, row.state); st != StatusBuilding && st != StatusReady {
		return VersionInfo{}, &StatusError{Op: "mark ready", Projection: projection, Version: version, Status: st, Want: StatusBuilding}
	}
	n, err := s.count(ctx, row.info.Table)
	if err != nil {
		return VersionInfo{}, err
	}
	b, _ := json.Marshal(src)
	now := s.now().UTC()
	if err := s.exec(ctx, func(ctx context.Context) error {
		return s.session.Query("UPDATE "+s.q(versionsTable)+" SET state = ?, source = ?, row_count = ?, updated_at = ? WHERE projection = ? AND version = ?",
			string(StatusReady), string(b), n, now, projection, version).Idempotent(true).ExecContext(ctx)
	}); err != nil {
		return VersionInfo{}, err
	}
	info := row.info
	info.Status, info.Source, info.Rows, info.Updated = StatusReady, src, n, now
	return info, nil
}

// Versions implements Store.
func (s *Cassandra) Versions(ctx context.Context, projection string) ([]VersionInfo, error) {
	rows, err := s.readVersions(ctx, projection, 0)
	if err != nil {
		return nil, wrapVersion("list", projection, 0, err)
	}
	pointers := map[string]pointer{}
	out := make([]VersionInfo, len(rows))
	for i, r := range rows {
		p, seen := pointers[r.info.Projection]
		if !seen {
			if p, _, err = s.pointer(ctx, r.info.Projection); err != nil {
				return nil, wrapVersion("list", r.info.Projection, 0, err)
			}
			pointers[r.info.Projection] = p
		}
		out[i] = r.info
		out[i].Status = p.status(r.info.Version, r.state)
	}
	// A full scan returns partitions in token order.
	sortVersions(out)
	return out, nil
}

func sortVersions(vs []VersionInfo) {
	slices.SortFunc(vs, func(a, b VersionInfo) int {
		if a.Projection != b.Projection {
			return strings.Compare(a.Projection, b.Projection)
		}
		return a.Version - b.Version
	})
}

// casAttempts bounds how often Promote and Rollback re-read the pointer
// after losing a compare-and-set to a concurrent change.
const casAttempts = 16

// movePointer applies change to the live pointer of projection with a
// compare-and-set on its epoch, re-reading and retrying when a concurrent
// change won.
func (s *Cassandra) movePointer(ctx context.Context, projection string, change func(pointer) (pointer, error)) (pointer, error) {
	for attempt := 0; attempt < casAttempts; attempt++ {
		p, epoch, err := s.pointer(ctx, projection)
		if err != nil {
			return pointer{}, err
		}
		next, err := change(p)
		if err != nil {
			return pointer{}, err
		}
		state, _ := json.Marshal(next)
		var q *gocql.Query
		if epoch == 0 {
			q = s.session.Query("INSERT INTO "+s.q(liveTable)+" (projection, live, state, epoch, updated_at) VALUES (?, ?, ?, 1, ?) IF NOT EXISTS",
				projection, next.Live, string(state), s.now().UTC())
		} else {
			q = s.session.Query("UPDATE "+s.q(liveTable)+" SET live = ?, state = ?, epoch = ?, updated_at = ? WHERE projection = ? IF epoch = ?",
				next.Live, string(state), epoch+1, s.now().UTC(), projection, epoch)
		}
		applied, err := q.SerialConsistency(s.serial).Idempotent(false).MapScanCASContext(ctx, map[string]any{})
		if err != nil {
			// The outcome is unknown: the transaction applied if the
			// pointer now is the one it wrote.
			now, nowEpoch, rerr := s.pointer(ctx, projection)
			if rerr == nil && nowEpoch == epoch+1 && reflect.DeepEqual(now, next) {
				return next, nil
			}
			return pointer{}, err
		}
		if applied {
			return next, nil
		}
		t := time.NewTimer(time.Duration(rand.Int64N(int64(10*time.Millisecond) << min(attempt, 4))))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return pointer{}, ctx.Err()
		}
	}
	return pointer{}, &VersionError{Op: "move pointer", Projection: projection, Err: ErrConflict}
}

// Promote implements Store with a lightweight transaction on the pointer row.
func (s *Cassandra) Promote(ctx context.Context, projection string, version int) error {
	row, found, err := s.version(ctx, projection, version)
	if err != nil {
		return wrapVersion("promote", projection, version, err)
	}
	if !found {
		return &VersionError{Op: "promote", Projection: projection, Version: version, Err: ErrUnknownVersion}
	}
	_, err = s.movePointer(ctx, projection, func(p pointer) (pointer, error) {
		return p.promote(projection, version, p.status(version, row.state))
	})
	return wrapVersion("promote", projection, version, err)
}

// Rollback implements Store with a lightweight transaction on the pointer row.
func (s *Cassandra) Rollback(ctx context.Context, projection string) (int, error) {
	next, err := s.movePointer(ctx, projection, func(p pointer) (pointer, error) { return p.rollback(projection) })
	if err != nil {
		return 0, wrapVersion("rollback", projection, 0, err)
	}
	return next.Live, nil
}

// Resolve implements Store.
func (s *Cassandra) Resolve(ctx context.Context, projection string) (string, int, error) {
	var live int
	err := s.exec(ctx, func(ctx context.Context) error {
		return s.session.Query("SELECT live FROM "+s.q(liveTable)+" WHERE projection = ?", projection).Idempotent(true).ScanContext(ctx, &live)
	})
	if errors.Is(err, gocql.ErrNotFound) || (err == nil && live == 0) {
		return "", 0, &VersionError{Op: "resolve", Projection: projection, Err: ErrNoLive}
	}
	if err != nil {
		return "", 0, &VersionError{Op: "resolve", Projection: projection, Err: err}
	}
	return TableName(projection, live), live, nil
}

// slogLogger passes the driver's log lines to a *slog.Logger.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) log(level slog.Level, msg string, fields []gocql.LogField) {
	attrs := make([]slog.Attr, len(fields))
	for i, f := range fields {
		attrs[i] = slog.Any(f.Name, f.Value.Any())
	}
	s.l.LogAttrs(context.Background(), level, "cassandra: "+msg, attrs...)
}

func (s slogLogger) Error(msg string, fields ...gocql.LogField)   { s.log(slog.LevelError, msg, fields) }
func (s slogLogger) Warning(msg string, fields ...gocql.LogField) { s.log(slog.LevelWarn, msg, fields) }
func (s slogLogger) Info(msg string, fields ...gocql.LogField)    { s.log(slog.LevelInfo, msg, fields) }
func (s slogLogger) Debug(msg string, fields ...gocql.LogField)   { s.log(slog.LevelDebug, msg, fields) }
