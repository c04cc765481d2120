package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/reckon-dev/reckon/operators"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// Hidden columns of SQLite projection tables. Cassandra keeps the write
// time of each cell and its tombstones itself; SQLite keeps them here.
const (
	// sqliteWriteTime holds the version of the write that made the row.
	sqliteWriteTime = "_reckon_writetime"
	// sqliteDeleted is 1 on a tombstone: a deleted row kept so that an
	// older upsert arriving later cannot bring it back.
	sqliteDeleted = "_reckon_deleted"
)

// sqliteTimeLayout formats timestamps as text that sorts in time order
// and that SQLite's date functions read.
const sqliteTimeLayout = "2006-01-02T15:04:05.000Z"

// SQLite is the embedded projection store: one SQLite file (WAL mode),
// readable with the sqlite3 shell. Each projection version is a table
// with the projection's columns (text, integer, real, blob; see
// sqliteType) plus the hidden columns _reckon_writetime and
// _reckon_deleted; a view named after the projection shows the live
// version's rows without tombstones.
//
// Durability: the database runs with synchronous=NORMAL, so a committed
// Apply survives a crash of the process but the last transactions may be
// lost on a power failure or OS crash. Projections are rebuilt from their
// input, and writes are idempotent, so replaying the input repairs them.
type SQLite struct {
	db  *sql.DB
	now func() time.Time

	mu     sync.Mutex
	tables map[string]*sqliteTable
	closed bool
}

// multiRow is an INSERT statement with a VALUES row per write.
type multiRow struct{ head, row, tail string }

func (m multiRow) sql(rows int) string {
	return m.head + strings.Repeat(m.row+", ", rows-1) + m.row + m.tail
}

// sqliteChunk is the number of writes per INSERT statement: several rows
// per statement spare most of the per-statement cost.
const sqliteChunk = 32

type sqliteTable struct {
	name   string
	cols   []Column
	keys   []Column
	pos    positions
	upsert multiRow
	del    multiRow
	get    string
	scan   string
}

// OpenSQLite opens (creating when absent) the SQLite projection store at
// path, and its catalog tables. Options: WithClock.
func OpenSQLite(ctx context.Context, path string, opts ...Opt) (*SQLite, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, &ConfigError{Problems: []ConfigProblem{{Key: "sqlite path", Problem: "empty", Fix: "name a file, e.g. sqlite:./.reckon/projections.db"}}}
	}
	if !o.create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("projections: no SQLite store at %s: %w", path, err)
		}
	} else if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("projections: sqlite %s: %w", path, err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("projections: sqlite %s: %w", path, err)
	}
	s := &SQLite{db: db, now: o.now, tables: map[string]*sqliteTable{}}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("projections: sqlite %s: %w", path, err)
	}
	return s, nil
}

func (s *SQLite) init(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS `+versionsTable+` (
	projection  TEXT NOT NULL,
	version     INTEGER NOT NULL,
	table_name  TEXT NOT NULL,
	state       TEXT NOT NULL,
	graph_name  TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	source      TEXT NOT NULL,
	row_count   INTEGER NOT NULL,
	columns     TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	PRIMARY KEY (projection, version)
);
CREATE TABLE IF NOT EXISTS `+liveTable+` (
	projection TEXT PRIMARY KEY,
	live       INTEGER NOT NULL,
	state      TEXT NOT NULL,
	epoch      INTEGER NOT NULL,
	updated_at TEXT NOT NULL
);`)
	return err
}

// Close closes the database.
func (s *SQLite) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.Close()
}

func sqliteType(t operators.ColumnType) string {
	switch t {
	case operators.TypeBigInt, operators.TypeInt, operators.TypeBoolean:
		return "INTEGER"
	case operators.TypeDouble:
		return "REAL"
	case operators.TypeBlob:
		return "BLOB"
	}
	// text, timestamp (ISO 8601, UTC, milliseconds), decimal (exact
	// decimal text), uuid, list<text> and map<text,text> (JSON).
	return "TEXT"
}

func quoteIdent(s string) string { return `"` + s + `"` }

func newSQLiteTable(name string, cols []Column) *sqliteTable {
	t := &sqliteTable{name: name, cols: cols, keys: keyColumns(cols)}
	var names, marks, sets, keyNames, keyConds []string
	for _, c := range cols {
		names = append(names, quoteIdent(c.Name))
		marks = append(marks, "?")
		if c.Kind == kindValue {
			sets = append(sets, quoteIdent(c.Name)+" = excluded."+quoteIdent(c.Name))
		}
	}
	for _, c := range t.keys {
		keyNames = append(keyNames, quoteIdent(c.Name))
		keyConds = append(keyConds, quoteIdent(c.Name)+" = ?")
	}
	sets = append(sets, sqliteWriteTime+" = excluded."+sqliteWriteTime, sqliteDeleted+" = excluded."+sqliteDeleted)
	tn := quoteIdent(name)
	conflict := " ON CONFLICT (" + strings.Join(keyNames, ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
	// An upsert wins over an older write, and over an equal one unless
	// that is a tombstone; a delete wins over an older or equal write.
	where := " WHERE excluded." + sqliteWriteTime + " > " + tn + "." + sqliteWriteTime +
		" OR (excluded." + sqliteWriteTime + " = " + tn + "." + sqliteWriteTime + " AND " + tn + "." + sqliteDeleted + " = 0)"
	t.upsert = multiRow{
		head: "INSERT INTO " + tn + " (" + strings.Join(names, ", ") + ", " + sqliteWriteTime + ", " + sqliteDeleted + ") VALUES ",
		row:  "(" + strings.Join(marks, ", ") + ", ?, 0)",
		tail: conflict + where,
	}
	t.del = multiRow{
		head: "INSERT INTO " + tn + " (" + strings.Join(keyNames, ", ") + ", " + sqliteWriteTime + ", " + sqliteDeleted + ") VALUES ",
		row:  "(" + strings.Join(marks[:len(t.keys)], ", ") + ", ?, 1)",
		tail: conflict + " WHERE excluded." + sqliteWriteTime + " >= " + tn + "." + sqliteWriteTime,
	}
	t.get = "SELECT " + strings.Join(names, ", ") + " FROM " + tn + " WHERE " + strings.Join(keyConds, " AND ") + " AND " + sqliteDeleted + " = 0"
	t.scan = "SELECT " + strings.Join(names, ", ") + " FROM " + tn + " WHERE " + sqliteDeleted + " = 0"
	return t
}

func (t *sqliteTable) createSQL() string {
	var defs, keyNames []string
	for _, c := range t.cols {
		def := quoteIdent(c.Name) + " " + sqliteType(c.Type)
		if c.Kind != kindValue {
			def += " NOT NULL"
			keyNames = append(keyNames, quoteIdent(c.Name))
		}
		defs = append(defs, def)
	}
	defs = append(defs, sqliteWriteTime+" INTEGER NOT NULL", sqliteDeleted+" INTEGER NOT NULL DEFAULT 0",
		"PRIMARY KEY ("+strings.Join(keyNames, ", ")+")")
	return "CREATE TABLE " + quoteIdent(t.name) + " (\n\t" + strings.Join(defs, ",\n\t") + "\n)"
}

func (t *sqliteTable) viewSQL(projection string) string {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = quoteIdent(c.Name)
	}
	return "CREATE VIEW " + quoteIdent(projection) + " AS SELECT " + strings.Join(names, ", ") +
		" FROM " + quoteIdent(t.name) + " WHERE " + sqliteDeleted + " = 0"
}

// sqliteRow is the catalog row of a version.
type sqliteRow struct {
	info  VersionInfo
	state Status
}

const sqliteVersionCols = "projection, version, table_name, state, graph_name, fingerprint, source, row_count, columns, created_at, updated_at"

type scanner interface{ Scan(dest ...any) error }

func scanVersion(r scanner) (sqliteRow, error) {
	var (
		v                   sqliteRow
		state, source, cols string
		created, updated    string
	)
	if err := r.Scan(&v.info.Projection, &v.info.Version, &v.info.Table, &state, &v.info.GraphName,
		&v.info.Fingerprint, &source, &v.info.Rows, &cols, &created, &updated); err != nil {
		return v, err
	}
	v.state = Status(state)
	v.info.Status = v.state
	if err := json.Unmarshal([]byte(source), &v.info.Source); err != nil {
		return v, fmt.Errorf("catalog source of %s: %w", v.info.Table, err)
	}
	if err := json.Unmarshal([]byte(cols), &v.info.Columns); err != nil {
		return v, fmt.Errorf("catalog columns of %s: %w", v.info.Table, err)
	}
	v.info.Created, _ = time.Parse(sqliteTimeLayout, created)
	v.info.Updated, _ = time.Parse(sqliteTimeLayout, updated)
	return v, nil
}

func (s *SQLite) stamp() string { return s.now().UTC().Format(sqliteTimeLayout) }

// Create implements Store.
func (s *SQLite) Create(ctx context.Context, spec *operators.TableSpec, g Graph) (VersionInfo, error) {
	if err := checkCreate(spec, g); err != nil {
		return VersionInfo{}, err
	}
	name := TableName(spec.Name, g.Version)
	want := columnsOf(spec)
	var info VersionInfo
	var table *sqliteTable
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		row, found, err := s.version(ctx, tx, spec.Name, g.Version)
		if err != nil {
			return err
		}
		p, err := s.pointer(ctx, tx, spec.Name)
		if err != nil {
			return err
		}
		now := s.stamp()
		if !found {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = ?`, name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return &TableError{Op: "create", Table: name, Err: fmt.Errorf("%w: a table or view of that name exists outside the catalog", ErrSchema)}
			}
			table = newSQLiteTable(name, want)
			if _, err := tx.ExecContext(ctx, table.createSQL()); err != nil {
				return err
			}
			src, _ := json.Marshal(SourceRange{})
			cols, _ := json.Marshal(want)
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+versionsTable+` (`+sqliteVersionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
				spec.Name, g.Version, name, string(StatusBuilding), g.Name, g.Fingerprint, string(src), string(cols), now, now); err != nil {
				return err
			}
			row, _, err = s.version(ctx, tx, spec.Name, g.Version)
			info = row.info
			info.Status = p.status(g.Version, row.state)
			return err
		}
		if row.info.Fingerprint != g.Fingerprint {
			return &VersionError{Op: "create", Projection: spec.Name, Version: g.Version, Err: fmt.Errorf(
				"%w: %s v%d was built by graph %s fingerprint %s, not %s %s; give the changed graph a new version",
				ErrFingerprint, spec.Name, g.Version, row.info.GraphName, row.info.Fingerprint, g.Name, g.Fingerprint)}
		}
		merged, added, err := mergeColumns(name, row.info.Columns, want)
		if err != nil {
			return err
		}
		table = newSQLiteTable(name, merged)
		if len(added) > 0 {
			for _, c := range added {
				if _, err := tx.ExecContext(ctx, "ALTER TABLE "+quoteIdent(name)+" ADD COLUMN "+quoteIdent(c.Name)+" "+sqliteType(c.Type)); err != nil {
					return err
				}
			}
			cols, _ := json.Marshal(merged)
			if _, err := tx.ExecContext(ctx, `UPDATE `+versionsTable+` SET columns = ?, updated_at = ? WHERE projection = ? AND version = ?`,
				string(cols), now, spec.Name, g.Version); err != nil {
				return err
			}
			if p.Live == g.Version {
				if err := s.replaceView(ctx, tx, spec.Name, table); err != nil {
					return err
				}
			}
			row.info.Columns = merged
		}
		info = row.info
		info.Status = p.status(g.Version, row.state)
		return nil
	})
	if err != nil {
		return VersionInfo{}, wrapVersion("create", spec.Name, g.Version, err)
	}
	s.mu.Lock()
	s.tables[name] = table
	s.mu.Unlock()
	return info, nil
}

// wrapVersion gives err the coordinates of a version unless it has them.
func wrapVersion(op, projection string, version int, err error) error {
	if err == nil {
		return nil
	}
	var te *TableError
	var ve *VersionError
	var se *StatusError
	if errors.As(err, &te) || errors.As(err, &ve) || errors.As(err, &se) {
		return err
	}
	return &VersionError{Op: op, Projection: projection, Version: version, Err: err}
}

func (s *SQLite) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *SQLite) version(ctx context.Context, q queryer, projection string, version int) (sqliteRow, bool, error) {
	row, err := scanVersion(q.QueryRowContext(ctx, `SELECT `+sqliteVersionCols+` FROM `+versionsTable+` WHERE projection = ? AND version = ?`, projection, version))
	if errors.Is(err, sql.ErrNoRows) {
		return row, false, nil
	}
	return row, err == nil, err
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *SQLite) pointer(ctx context.Context, q queryer, projection string) (pointer, error) {
	var state string
	err := q.QueryRowContext(ctx, `SELECT state FROM `+liveTable+` WHERE projection = ?`, projection).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return pointer{}, nil
	}
	if err != nil {
		return pointer{}, err
	}
	var p pointer
	if err := json.Unmarshal([]byte(state), &p); err != nil {
		return pointer{}, fmt.Errorf("live pointer of %s: %w", projection, err)
	}
	return p, nil
}

// table returns the cached table, loading it from the catalog.
func (s *SQLite) table(ctx context.Context, name string) (*sqliteTable, error) {
	s.mu.Lock()
	t, ok := s.tables[name]
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if ok {
		return t, nil
	}
	var cols string
	err := s.db.QueryRowContext(ctx, `SELECT columns FROM `+versionsTable+` WHERE table_name = ?`, name).Scan(&cols)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnknownTable
	}
	if err != nil {
		return nil, err
	}
	var cs []Column
	if err := json.Unmarshal([]byte(cols), &cs); err != nil {
		return nil, err
	}
	t = newSQLiteTable(name, cs)
	s.mu.Lock()
	s.tables[name] = t
	s.mu.Unlock()
	return t, nil
}

// sqliteValue converts a normalized value to what SQLite stores.
func sqliteValue(c Column, v any) any {
	if v == nil {
		return nil
	}
	switch c.Type {
	case operators.TypeInt:
		return int64(v.(int32))
	case operators.TypeBoolean:
		if v.(bool) {
			return int64(1)
		}
		return int64(0)
	case operators.TypeTimestamp:
		return v.(time.Time).Format(sqliteTimeLayout)
	case operators.TypeDecimal:
		return decimalString(v.(*big.Rat))
	case operators.TypeTextList, operators.TypeTextMap:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return v
}

// fromSQLite converts what SQLite returns to the column's Go value.
func fromSQLite(c Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	text := func() string {
		if b, ok := v.([]byte); ok {
			return string(b)
		}
		s, _ := v.(string)
		return s
	}
	switch c.Type {
	case operators.TypeText, operators.TypeUUID:
		return text(), nil
	case operators.TypeBigInt:
		if n, ok := v.(int64); ok {
			return n, nil
		}
	case operators.TypeInt:
		if n, ok := v.(int64); ok {
			return int32(n), nil
		}
	case operators.TypeBoolean:
		if n, ok := v.(int64); ok {
			return n != 0, nil
		}
	case operators.TypeDouble:
		switch n := v.(type) {
		case float64:
			return n, nil
		case int64:
			return float64(n), nil
		}
	case operators.TypeTimestamp:
		t, err := time.Parse(sqliteTimeLayout, text())
		if err != nil {
			return nil, err
		}
		return t.UTC(), nil
	case operators.TypeBlob:
		if b, ok := v.([]byte); ok {
			return append([]byte{}, b...), nil
		}
		return []byte(text()), nil
	case operators.TypeDecimal:
		r, ok := new(big.Rat).SetString(text())
		if !ok {
			return nil, fmt.Errorf("decimal %q", text())
		}
		return r, nil
	case operators.TypeTextList:
		var l []string
		err := json.Unmarshal([]byte(text()), &l)
		return l, err
	case operators.TypeTextMap:
		var m map[string]string
		err := json.Unmarshal([]byte(text()), &m)
		return m, err
	}
	return nil, fmt.Errorf("column %s (%s): unexpected stored %T", c.Name, c.Type, v)
}

// Apply implements Store: every write of the call commits in one
// transaction, or none does.
func (s *SQLite) Apply(ctx context.Context, table string, writes []Write) error {
	if len(writes) == 0 {
		return nil
	}
	t, err := s.table(ctx, table)
	if err != nil {
		return &TableError{Op: "apply", Table: table, Err: err}
	}
	args, err := t.args(writes)
	if err != nil {
		return err
	}
	var ups, dels [][]any
	for i, w := range writes {
		if w.Delete {
			dels = append(dels, args[i])
		} else {
			ups = append(ups, args[i])
		}
	}
	// Writes of one key may be in any order: the stored write time decides.
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := execChunks(ctx, tx, t.upsert, ups); err != nil {
			return err
		}
		return execChunks(ctx, tx, t.del, dels)
	})
	if err != nil {
		return &TableError{Op: "apply", Table: table, Err: err}
	}
	return nil
}

// execChunks inserts rows, sqliteChunk per statement.
func execChunks(ctx context.Context, tx *sql.Tx, m multiRow, rows [][]any) error {
	var full *sql.Stmt
	for len(rows) > 0 {
		n := min(len(rows), sqliteChunk)
		flat := make([]any, 0, n*len(rows[0]))
		for _, r := range rows[:n] {
			flat = append(flat, r...)
		}
		rows = rows[n:]
		if n < sqliteChunk {
			if _, err := tx.ExecContext(ctx, m.sql(n), flat...); err != nil {
				return err
			}
			continue
		}
		if full == nil {
			var err error
			if full, err = tx.PrepareContext(ctx, m.sql(sqliteChunk)); err != nil {
				return err
			}
			defer full.Close()
		}
		if _, err := full.ExecContext(ctx, flat...); err != nil {
			return err
		}
	}
	return nil
}

// args validates writes and returns the statement arguments of each, so
// that a bad value fails the call before anything is written.
func (t *sqliteTable) args(writes []Write) ([][]any, error) {
	out := make([][]any, len(writes))
	flat := make([]any, 0, len(writes)*(len(t.cols)+1))
	for i, w := range writes {
		key, err := normalizeKey(t.name, t.keys, w.Key)
		if err != nil {
			return nil, err
		}
		start := len(flat)
		var pos []int
		if w.Columns != nil && !w.Delete {
			pos = t.pos.of(t.cols, w.Columns)
		}
		for j, c := range t.cols {
			if c.Kind != kindValue {
				flat = append(flat, sqliteValue(c, key[j]))
				continue
			}
			if w.Delete {
				continue
			}
			v, err := normalize(t.name, c, w.value(pos, j, c.Name))
			if err != nil {
				return nil, err
			}
			flat = append(flat, sqliteValue(c, v))
		}
		flat = append(flat, w.Version)
		out[i] = flat[start:len(flat):len(flat)]
	}
	return out, nil
}

func (t *sqliteTable) row(rows interface{ Scan(...any) error }) (Row, error) {
	raw := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	r := make(Row, len(t.cols))
	for i, c := range t.cols {
		v, err := fromSQLite(c, raw[i])
		if err != nil {
			return nil, err
		}
		r[c.Name] = v
	}
	return r, nil
}

// Get implements Store.
func (s *SQLite) Get(ctx context.Context, table string, key []any) (Row, bool, error) {
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
		args[i] = sqliteValue(c, k[i])
	}
	r, err := t.row(s.db.QueryRowContext(ctx, t.get, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &TableError{Op: "get", Table: table, Err: err}
	}
	return r, true, nil
}

// Scan implements Store.
func (s *SQLite) Scan(ctx context.Context, table string, fn func(Row) error) error {
	t, err := s.table(ctx, table)
	if err != nil {
		return &TableError{Op: "scan", Table: table, Err: err}
	}
	rows, err := s.db.QueryContext(ctx, t.scan)
	if err != nil {
		return &TableError{Op: "scan", Table: table, Err: err}
	}
	defer rows.Close()
	for rows.Next() {
		r, err := t.row(rows)
		if err != nil {
			return &TableError{Op: "scan", Table: table, Err: err}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return &TableError{Op: "scan", Table: table, Err: err}
	}
	return nil
}

// MarkReady implements Store.
func (s *SQLite) MarkReady(ctx context.Context, projection string, version int, src SourceRange) (VersionInfo, error) {
	var info VersionInfo
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		row, found, err := s.version(ctx, tx, projection, version)
		if err != nil {
			return err
		}
		if !found {
			return &VersionError{Op: "ready", Projection: projection, Version: version, Err: ErrUnknownVersion}
		}
		p, err := s.pointer(ctx, tx, projection)
		if err != nil {
			return err
		}
		if st := p.status(version, row.state); st != StatusBuilding && st != StatusReady {
			return &StatusError{Op: "mark ready", Projection: projection, Version: version, Status: st, Want: StatusBuilding}
		}
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(row.info.Table)+` WHERE `+sqliteDeleted+` = 0`).Scan(&n); err != nil {
			return err
		}
		b, _ := json.Marshal(src)
		now := s.stamp()
		if _, err := tx.ExecContext(ctx, `UPDATE `+versionsTable+` SET state = ?, source = ?, row_count = ?, updated_at = ? WHERE projection = ? AND version = ?`,
			string(StatusReady), string(b), n, now, projection, version); err != nil {
			return err
		}
		row, _, err = s.version(ctx, tx, projection, version)
		info = row.info
		return err
	})
	if err != nil {
		return VersionInfo{}, wrapVersion("ready", projection, version, err)
	}
	return info, nil
}

// Versions implements Store.
func (s *SQLite) Versions(ctx context.Context, projection string) ([]VersionInfo, error) {
	q := `SELECT ` + sqliteVersionCols + ` FROM ` + versionsTable
	var args []any
	if projection != "" {
		q += ` WHERE projection = ?`
		args = append(args, projection)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY projection, version`, args...)
	if err != nil {
		return nil, wrapVersion("list", projection, 0, err)
	}
	defer rows.Close()
	var out []VersionInfo
	pointers := map[string]pointer{}
	for rows.Next() {
		row, err := scanVersion(rows)
		if err != nil {
			return nil, wrapVersion("list", projection, 0, err)
		}
		out = append(out, row.info)
		pointers[row.info.Projection] = pointer{}
	}
	if err := rows.Err(); err != nil {
		return nil, wrapVersion("list", projection, 0, err)
	}
	rows.Close()
	for name := range pointers {
		p, err := s.pointer(ctx, s.db, name)
		if err != nil {
			return nil, wrapVersion("list", name, 0, err)
		}
		pointers[name] = p
	}
	for i := range out {
		out[i].Status = pointers[out[i].Projection].status(out[i].Version, out[i].Status)
	}
	return out, nil
}

// Promote implements Store: the pointer row, the statuses it implies and
// the projection's view change in one transaction.
func (s *SQLite) Promote(ctx context.Context, projection string, version int) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		row, found, err := s.version(ctx, tx, projection, version)
		if err != nil {
			return err
		}
		if !found {
			return &VersionError{Op: "promote", Projection: projection, Version: version, Err: ErrUnknownVersion}
		}
		p, err := s.pointer(ctx, tx, projection)
		if err != nil {
			return err
		}
		next, err := p.promote(projection, version, p.status(version, row.state))
		if err != nil {
			return err
		}
		return s.movePointer(ctx, tx, projection, next, row.info)
	})
	return wrapVersion("promote", projection, version, err)
}

// Rollback implements Store.
func (s *SQLite) Rollback(ctx context.Context, projection string) (int, error) {
	var version int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := s.pointer(ctx, tx, projection)
		if err != nil {
			return err
		}
		next, err := p.rollback(projection)
		if err != nil {
			return err
		}
		row, found, err := s.version(ctx, tx, projection, next.Live)
		if err != nil {
			return err
		}
		if !found {
			return &VersionError{Op: "rollback", Projection: projection, Version: next.Live, Err: ErrUnknownVersion}
		}
		version = next.Live
		return s.movePointer(ctx, tx, projection, next, row.info)
	})
	if err != nil {
		return 0, wrapVersion("rollback", projection, 0, err)
	}
	return version, nil
}

func (s *SQLite) movePointer(ctx context.Context, tx *sql.Tx, projection string, next pointer, live VersionInfo) error {
	state, _ := json.Marshal(next)
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+liveTable+` (projection, live, state, epoch, updated_at) VALUES (?, ?, ?, 1, ?)
ON CONFLICT (projection) DO UPDATE SET live = excluded.live, state = excluded.state, epoch = epoch + 1, updated_at = excluded.updated_at`,
		projection, next.Live, string(state), s.stamp()); err != nil {
		return err
	}
	return s.replaceView(ctx, tx, projection, newSQLiteTable(live.Table, live.Columns))
}

func (s *SQLite) replaceView(ctx context.Context, tx *sql.Tx, projection string, t *sqliteTable) error {
	if _, err := tx.ExecContext(ctx, "DROP VIEW IF EXISTS "+quoteIdent(projection)); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, t.viewSQL(projection))
	return err
}

// Resolve implements Store.
func (s *SQLite) Resolve(ctx context.Context, projection string) (string, int, error) {
	var live int
	err := s.db.QueryRowContext(ctx, `SELECT live FROM `+liveTable+` WHERE projection = ?`, projection).Scan(&live)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, &VersionError{Op: "resolve", Projection: projection, Err: ErrNoLive}
	}
	if err != nil {
		return "", 0, &VersionError{Op: "resolve", Projection: projection, Err: err}
	}
	return TableName(projection, live), live, nil
}
