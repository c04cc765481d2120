package operators

import (
	"fmt"
	"time"
)

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one input event as a driver hands it to a graph. The live driver
// builds it from a Kafka record, the replay driver from an archived Parquet
// row; both fill the same fields, so no operator knows which driver runs it.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	// Key is the Kafka record key, as bytes.
	Key []byte
	// Timestamp is the Kafka record timestamp. Inputs declared with
	// KafkaTime use it as event time.
	Timestamp time.Time
	Headers   []Header
	// SchemaID is the registry id of the writer schema the value was
	// decoded with (0 when unknown).
	SchemaID int
	// Value is the decoded Avro record in goavro's native form, already
	// resolved to the input's reader schema.
	Value map[string]any
}

// Provenance says where an event came from. Every output carries the
// provenance of the inputs that produced it.
type Provenance struct {
	Topic     string
	Partition int32
	Offset    int64
	// Time is the event time the graph assigned to the record.
	Time time.Time
}

func (p Provenance) String() string {
	return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset)
}
