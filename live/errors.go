package live

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinels; the typed errors below wrap them. Route with errors.Is.
var (
	// ErrMissingTopic: a topic the graph reads or writes does not exist
	// (and Topics.Create is off, or it is an input).
	ErrMissingTopic = errors.New("live: topic does not exist")
	// ErrCoPartition: co-partitioned inputs have different partition
	// counts.
	ErrCoPartition = errors.New("live: co-partitioned topics have different partition counts")
	// ErrSnapshot: the changelog holds a snapshot of another graph shape
	// under this task's key, or one that does not restore.
	ErrSnapshot = errors.New("live: snapshot does not restore")
	// ErrProduce: the producer gave up on a record (a non-retriable
	// broker error); its output is not durable, so Run stops before
	// committing, and a restart re-processes from the last checkpoint.
	ErrProduce = errors.New("live: produce failed")
	// ErrTransaction: with Delivery exactly-once, a Kafka transaction
	// could not begin or end (the member was fenced by another with the
	// same transactional id, or the broker refused for good). Nothing of
	// the failed transaction is visible; a restart resumes from the last
	// committed checkpoint.
	ErrTransaction = errors.New("live: transaction failed")
)

// TopicError reports topics that are missing or unusable.
type TopicError struct {
	Topics []string
	Err    error
}

func (e *TopicError) Error() string {
	return fmt.Sprintf("%v: %s (create them, or set topics.create for reckon's own topics)", e.Err, strings.Join(e.Topics, ", "))
}

func (e *TopicError) Unwrap() error { return e.Err }

// CoPartitionError reports the partition counts of co-partitioned inputs
// that differ.
type CoPartitionError struct {
	Partitions map[string]int32
}

func (e *CoPartitionError) Error() string {
	topics := make([]string, 0, len(e.Partitions))
	for t := range e.Partitions {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	var b strings.Builder
	for i, t := range topics {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s has %d", t, e.Partitions[t])
	}
	return fmt.Sprintf("%v: %s (repartition them to one count: tasks pair partition numbers)", ErrCoPartition, b.String())
}

func (e *CoPartitionError) Unwrap() error { return ErrCoPartition }

// SnapshotError reports a task snapshot that cannot be restored.
type SnapshotError struct {
	Topic     string // changelog topic
	Partition int32
	Key       string
	Err       error
}

func (e *SnapshotError) Error() string {
	return fmt.Sprintf("%v: %s/%d key %q: %v", ErrSnapshot, e.Topic, e.Partition, e.Key, e.Err)
}

func (e *SnapshotError) Unwrap() error { return errors.Join(ErrSnapshot, e.Err) }

// ProduceError reports a record the producer gave up on.
type ProduceError struct {
	Topic string
	Err   error
}

func (e *ProduceError) Error() string {
	return fmt.Sprintf("%v: topic %s: %v", ErrProduce, e.Topic, e.Err)
}

func (e *ProduceError) Unwrap() error { return errors.Join(ErrProduce, e.Err) }
