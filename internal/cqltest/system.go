package cqltest

import (
	"encoding/binary"
	"sort"
)

// The virtual system tables the driver reads on connect and for schema
// metadata. Each query builds the table afresh from the catalog.

type sysCol struct {
	name string
	typ  *cqlType
}

// sysTable builds a table with the given key columns (the first pk
// columns form the partition key, the next ck the clustering key).
func sysTable(ks, name string, pk, ck int, cols []sysCol) *table {
	var defs []colDef
	var pkn, ckn []string
	for i, c := range cols {
		defs = append(defs, colDef(c))
		switch {
		case i < pk:
			pkn = append(pkn, c.name)
		case i < pk+ck:
			ckn = append(ckn, c.name)
		}
	}
	return newTable(ks, name, [16]byte{}, defs, pkn, ckn, nil)
}

// put writes a row of a system table from values by column name.
func (t *table) put(vals map[string][]byte) {
	var pk, ck [][]byte
	for _, c := range t.pk {
		pk = append(pk, vals[c.name])
	}
	for _, c := range t.ck {
		ck = append(ck, vals[c.name])
	}
	r := t.partition(pk, true).row(ck, true)
	r.marker = 0
	for _, c := range t.cols {
		if v, ok := vals[c.name]; ok && c.kind == regular && v != nil {
			r.writeCell(c.name, cell{ts: 0, value: v})
		}
	}
}

func textList(l []string) []byte {
	elems := make([][]byte, len(l))
	for i, s := range l {
		elems[i] = []byte(s)
	}
	return joinCollection(len(l), elems)
}

func textSet(l []string) []byte {
	return normalizeCollection(typeTextSet, textList(l))
}

func textMap(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var elems [][]byte
	for _, k := range keys {
		elems = append(elems, []byte(k), []byte(m[k]))
	}
	return joinCollection(len(keys), elems)
}

func intBytes(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(int32(n))) }

func boolBytes(b bool) []byte {
	if b {
		return []byte{1}
	}
	return []byte{0}
}

// systemTable returns the virtual table ks.name, or nil. Callers hold d.mu.
func (d *db) systemTable(ks, name string) *table {
	switch ks + "." + name {
	case "system.local":
		return d.systemLocal()
	case "system.peers":
		return sysTable(ks, name, 1, 0, []sysCol{
			{"peer", typeInet}, {"data_center", typeText}, {"host_id", typeUUID},
			{"preferred_ip", typeInet}, {"rack", typeText}, {"release_version", typeText},
			{"rpc_address", typeInet}, {"schema_version", typeUUID}, {"tokens", typeTextSet},
		})
	case "system.peers_v2":
		return sysTable(ks, name, 1, 1, []sysCol{
			{"peer", typeInet}, {"peer_port", typeInt}, {"data_center", typeText}, {"host_id", typeUUID},
			{"native_address", typeInet}, {"native_port", typeInt}, {"preferred_ip", typeInet},
			{"preferred_port", typeInt}, {"rack", typeText}, {"release_version", typeText},
			{"schema_version", typeUUID}, {"tokens", typeTextSet},
		})
	case "system_schema.keyspaces":
		return d.systemKeyspaces()
	case "system_schema.tables":
		return d.systemTables()
	case "system_schema.columns":
		return d.systemColumns()
	case "system_schema.types":
		return sysTable(ks, name, 1, 1, []sysCol{
			{"keyspace_name", typeText}, {"type_name", typeText},
			{"field_names", typeTextList}, {"field_types", typeTextList},
		})
	case "system_schema.functions":
		return sysTable(ks, name, 1, 2, []sysCol{
			{"keyspace_name", typeText}, {"function_name", typeText}, {"argument_types", typeTextList},
			{"argument_names", typeTextList}, {"body", typeText}, {"called_on_null_input", typeBoolean},
			{"language", typeText}, {"return_type", typeText},
		})
	case "system_schema.aggregates":
		return sysTable(ks, name, 1, 2, []sysCol{
			{"keyspace_name", typeText}, {"aggregate_name", typeText}, {"argument_types", typeTextList},
			{"final_func", typeText}, {"initcond", typeText}, {"return_type", typeText},
			{"state_func", typeText}, {"state_type", typeText},
		})
	case "system_schema.views":
		return sysTable(ks, name, 1, 1, []sysCol{
			{"keyspace_name", typeText}, {"view_name", typeText}, {"base_table_id", typeUUID},
			{"base_table_name", typeText}, {"id", typeUUID}, {"include_all_columns", typeBoolean},
			{"where_clause", typeText},
		})
	case "system_schema.indexes":
		return sysTable(ks, name, 1, 2, []sysCol{
			{"keyspace_name", typeText}, {"table_name", typeText}, {"index_name", typeText},
			{"kind", typeText}, {"options", typeTextMap},
		})
	case "system_schema.triggers":
		return sysTable(ks, name, 1, 2, []sysCol{
			{"keyspace_name", typeText}, {"table_name", typeText}, {"trigger_name", typeText},
			{"options", typeTextMap},
		})
	}
	return nil
}

func (d *db) systemLocal() *table {
	t := sysTable("system", "local", 1, 0, []sysCol{
		{"key", typeText}, {"bootstrapped", typeText}, {"broadcast_address", typeInet},
		{"broadcast_port", typeInt}, {"cluster_name", typeText}, {"cql_version", typeText},
		{"data_center", typeText}, {"gossip_generation", typeInt}, {"host_id", typeUUID},
		{"listen_address", typeInet}, {"listen_port", typeInt}, {"native_protocol_version", typeText},
		{"partitioner", typeText}, {"rack", typeText}, {"release_version", typeText},
		{"rpc_address", typeInet}, {"rpc_port", typeInt}, {"schema_version", typeUUID},
		{"tokens", typeTextSet},
	})
	n := d.node
	t.put(map[string][]byte{
		"key": []byte("local"), "bootstrapped": []byte("COMPLETED"),
		"broadcast_address": n.addr, "broadcast_port": intBytes(7000),
		"cluster_name": []byte(n.clusterName), "cql_version": []byte(cqlVersion),
		"data_center": []byte(n.dataCenter), "gossip_generation": intBytes(1),
		"host_id": n.hostID[:], "listen_address": n.addr, "listen_port": intBytes(7000),
		"native_protocol_version": []byte("4"), "partitioner": []byte(n.partitioner),
		"rack": []byte(n.rack), "release_version": []byte(n.version),
		"rpc_address": n.addr, "rpc_port": intBytes(n.port),
		"schema_version": d.schemaVersion[:], "tokens": textSet(n.tokens),
	})
	return t
}

// systemKeyspaceNames are the read-only keyspaces system_schema lists.
var systemKeyspaceNames = []string{"system", "system_schema"}

func (d *db) systemKeyspaces() *table {
	t := sysTable("system_schema", "keyspaces", 1, 0, []sysCol{
		{"keyspace_name", typeText}, {"durable_writes", typeBoolean}, {"replication", typeTextMap},
	})
	for _, name := range systemKeyspaceNames {
		t.put(map[string][]byte{
			"keyspace_name": []byte(name), "durable_writes": boolBytes(true),
			"replication": textMap(map[string]string{"class": localStrategy}),
		})
	}
	for _, k := range d.keyspaces {
		t.put(map[string][]byte{
			"keyspace_name": []byte(k.name), "durable_writes": boolBytes(k.durable),
			"replication": textMap(k.replication),
		})
	}
	return t
}

func (d *db) systemTables() *table {
	t := sysTable("system_schema", "tables", 1, 1, []sysCol{
		{"keyspace_name", typeText}, {"table_name", typeText}, {"bloom_filter_fp_chance", typeDouble},
		{"caching", typeTextMap}, {"comment", typeText}, {"compaction", typeTextMap},
		{"compression", typeTextMap}, {"crc_check_chance", typeDouble},
		{"default_time_to_live", typeInt}, {"extensions", typeTextBlobs},
		{"flags", &cqlType{kind: kSet, elem: typeText, frozen: true}}, {"gc_grace_seconds", typeInt},
		{"id", typeUUID}, {"max_index_interval", typeInt}, {"memtable_flush_period_in_ms", typeInt},
		{"min_index_interval", typeInt}, {"speculative_retry", typeText},
	})
	for _, k := range d.keyspaces {
		for _, tb := range k.tables {
			t.put(map[string][]byte{
				"keyspace_name": []byte(k.name), "table_name": []byte(tb.name),
				"bloom_filter_fp_chance":      binary.BigEndian.AppendUint64(nil, 0x3f847ae147ae147b), // 0.01
				"caching":                     textMap(map[string]string{"keys": "ALL", "rows_per_partition": "NONE"}),
				"comment":                     []byte{},
				"compaction":                  textMap(map[string]string{"class": "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy"}),
				"compression":                 textMap(map[string]string{}),
				"crc_check_chance":            binary.BigEndian.AppendUint64(nil, 0x3ff0000000000000), // 1.0
				"default_time_to_live":        intBytes(0),
				"extensions":                  joinCollection(0, nil),
				"flags":                       textSet([]string{"compound"}),
				"gc_grace_seconds":            intBytes(864000),
				"id":                          tb.id[:],
				"max_index_interval":          intBytes(2048),
				"memtable_flush_period_in_ms": intBytes(0),
				"min_index_interval":          intBytes(128),
				"speculative_retry":           []byte("99p"),
			})
		}
	}
	return t
}

func (d *db) systemColumns() *table {
	t := sysTable("system_schema", "columns", 1, 2, []sysCol{
		{"keyspace_name", typeText}, {"table_name", typeText}, {"column_name", typeText},
		{"clustering_order", typeText}, {"column_name_bytes", typeBlob}, {"kind", typeText},
		{"position", typeInt}, {"type", typeText},
	})
	for _, k := range d.keyspaces {
		for _, tb := range k.tables {
			for _, c := range tb.cols {
				order := "none"
				if c.kind == clusteringKey {
					order = "asc"
					if c.desc {
						order = "desc"
					}
				}
				t.put(map[string][]byte{
					"keyspace_name": []byte(k.name), "table_name": []byte(tb.name),
					"column_name": []byte(c.name), "clustering_order": []byte(order),
					"column_name_bytes": []byte(c.name), "kind": []byte(c.kind.String()),
					"position": intBytes(c.pos), "type": []byte(c.typ.String()),
				})
			}
		}
	}
	return t
}
