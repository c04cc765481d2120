package operators

import (
	"encoding/json"
	"fmt"
)

// avroFields is what operators need of a reader schema: the type at each
// field path, to check paths and types before a graph runs. Full Avro
// handling (resolution, codecs) lives in package schemas.
type avroFields struct {
	types map[string]fieldType
}

// fieldType is the coarse type of a field for validation.
type fieldType struct {
	avro     string // string, long, int, double, float, boolean, bytes, enum, record, array, map, fixed, union
	logical  string // timestamp-millis, decimal, uuid, date, …
	nullable bool
}

func (t fieldType) String() string {
	s := t.avro
	if t.logical != "" {
		s = t.logical
	}
	if t.nullable {
		s = "nullable " + s
	}
	return s
}

// numeric reports whether the type holds a number.
func (t fieldType) numeric() bool {
	switch t.avro {
	case "int", "long", "float", "double":
		return t.logical == "" || t.logical == "decimal"
	case "bytes", "fixed":
		return t.logical == "decimal"
	}
	return false
}

// temporal reports whether the type holds a point in time.
func (t fieldType) temporal() bool {
	switch t.logical {
	case "timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros", "date":
		return true
	}
	return t.avro == "long" && t.logical == ""
}

// textual reports whether the type reads as a string.
func (t fieldType) textual() bool { return t.avro == "string" || t.avro == "enum" }

// columnType maps the field type to a projection column type.
func (t fieldType) columnType() ColumnType {
	switch t.logical {
	case "timestamp-millis", "timestamp-micros", "date", "local-timestamp-millis", "local-timestamp-micros":
		return TypeTimestamp
	case "decimal":
		return TypeDecimal
	case "uuid":
		return TypeUUID
	}
	switch t.avro {
	case "string", "enum":
		return TypeText
	case "long":
		return TypeBigInt
	case "int":
		return TypeInt
	case "double", "float":
		return TypeDouble
	case "boolean":
		return TypeBoolean
	case "bytes", "fixed":
		return TypeBlob
	}
	return TypeUnknown
}

// comparable reports whether values of the two types can be compared by a
// reconciliation rule.
func (t fieldType) comparable(u fieldType) bool {
	switch {
	case t.numeric() && u.numeric():
		return true
	case t.textual() && u.textual():
		return true
	case t.temporal() && u.temporal():
		return true
	}
	return t.avro == u.avro && t.logical == u.logical
}

func parseAvroFields(avsc string) (*avroFields, error) {
	var root any
	if err := json.Unmarshal([]byte(avsc), &root); err != nil {
		return nil, fmt.Errorf("reader schema is not JSON: %w", err)
	}
	f := &avroFields{types: map[string]fieldType{}}
	named := map[string]any{}
	if err := f.walk("", root, named, 0); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *avroFields) walk(prefix string, schema any, named map[string]any, depth int) error {
	if depth > 32 {
		return fmt.Errorf("reader schema nests deeper than 32 levels at %q", prefix)
	}
	rec, ok := schema.(map[string]any)
	if !ok || rec["type"] != "record" {
		return fmt.Errorf("reader schema: want a record at %q", prefix)
	}
	if name, ok := rec["name"].(string); ok {
		named[name] = rec
		if ns, ok := rec["namespace"].(string); ok {
			named[ns+"."+name] = rec
		}
	}
	fields, _ := rec["fields"].([]any)
	for _, raw := range fields {
		fd, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("reader schema: bad field in %q", prefix)
		}
		name, _ := fd["name"].(string)
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		t, sub := classify(fd["type"], named)
		f.types[path] = t
		if sub != nil {
			if err := f.walk(path, sub, named, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// classify returns the coarse type of a schema and, for records, the record
// schema to descend into.
func classify(schema any, named map[string]any) (fieldType, any) {
	switch s := schema.(type) {
	case string:
		if def, ok := named[s]; ok {
			return classify(def, named)
		}
		return fieldType{avro: s}, nil
	case []any:
		var branches []any
		nullable := false
		for _, b := range s {
			if b == "null" {
				nullable = true
				continue
			}
			branches = append(branches, b)
		}
		if len(branches) == 1 {
			t, sub := classify(branches[0], named)
			t.nullable = nullable
			return t, sub
		}
		return fieldType{avro: "union", nullable: nullable}, nil
	case map[string]any:
		typ, _ := s["type"].(string)
		logical, _ := s["logicalType"].(string)
		if name, ok := s["name"].(string); ok && (typ == "enum" || typ == "fixed" || typ == "record") {
			named[name] = s
			if ns, ok := s["namespace"].(string); ok {
				named[ns+"."+name] = s
			}
		}
		if typ == "record" {
			return fieldType{avro: "record"}, s
		}
		if typ == "" {
			return classify(s["type"], named)
		}
		return fieldType{avro: typ, logical: logical}, nil
	}
	return fieldType{avro: "unknown"}, nil
}
