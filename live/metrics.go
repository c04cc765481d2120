package live

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the driver's Prometheus collectors, registered in one
// registry (never the global one).
type metrics struct {
	recordsIn      *prometheus.CounterVec // topic
	recordsOut     *prometheus.CounterVec // target (table or topic name)
	deadLetters    *prometheus.CounterVec // reason
	mismatchStates *prometheus.CounterVec // topic, status
	reasons        *prometheus.CounterVec // topic, kind
	lag            *prometheus.GaugeVec   // topic, partition
	watermarkDelay *prometheus.GaugeVec   // partition
	stateKeys      *prometheus.GaugeVec   // partition
	stateBytes     *prometheus.GaugeVec   // partition
	flushSeconds   prometheus.Histogram   // sink flush and producer flush
	commitSeconds  prometheus.Histogram   // offset commit
	retries        *prometheus.CounterVec // dependency
	tasks          prometheus.Gauge       // tasks running
	checkpoints    *prometheus.CounterVec // result
	restoreSeconds prometheus.Histogram   // changelog restore
	all            []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "reckon", Subsystem: "live",
			Name: "records_in_total", Help: "Input records consumed, by topic."}, []string{"topic"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "reckon", Subsystem: "live",
			Name: "records_out_total", Help: "Outputs written, by table or topic."}, []string{"target"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "reckon", Subsystem: "live",
			Name: "dead_letters_total", Help: "Records sent to the dead-letter topic, by reason class."}, []string{"reason"}),
		mismatchStates: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "reckon", Subsystem: "live",
			Name: "reconciliation_states_total", Help: "Reconciliation states published, by topic and status (OPEN, RESOLVED)."}, []string{"topic", "status"}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "reckon", Subsystem: "live",
			Name: "reconciliation_reasons_total", Help: "Reasons of the OPEN reconciliation states published, by topic and kind (MISSING_LEFT, MISSING_RIGHT, FIELD_MISMATCH, …)."}, []string{"topic", "kind"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "reckon", Subsystem: "live",
			Name: "consumer_lag", Help: "Last stable offset (the high watermark without open transactions) minus the next offset to process, by input partition."}, []string{"topic", "partition"}),
		watermarkDelay: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "reckon", Subsystem: "live",
			Name: "watermark_delay_seconds", Help: "Driver clock minus the task watermark, by task."}, []string{"partition"}),
		stateKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "reckon", Subsystem: "live",
			Name: "state_keys", Help: "Keys in a task's keyed state, by task."}, []string{"partition"}),
		stateBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "reckon", Subsystem: "live",
			Name: "state_bytes", Help: "Size of a task's last snapshot, by task."}, []string{"partition"}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "reckon", Subsystem: "live",
			Name: "flush_seconds", Help: "Time to make a checkpoint's outputs durable (sink flush and producer acks).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "reckon", Subsystem: "live",
			Name: "commit_seconds", Help: "Time to commit a checkpoint's offsets (with exactly-once delivery, to end its transaction).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "reckon", Subsystem: "live",
			Name: "retries_total", Help: "Infrastructure failures retried, by dependency."}, []string{"dependency"}),
		tasks: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "reckon", Subsystem: "live",
			Name: "tasks", Help: "Tasks (partition numbers) this member runs."}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "reckon", Subsystem: "live",
			Name: "checkpoints_total", Help: "Checkpoints, by result (ok, failed, aborted: an exactly-once transaction rolled back by a rebalance)."}, []string{"result"}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "reckon", Subsystem: "live",
			Name: "restore_seconds", Help: "Time to restore assigned tasks from the changelog.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
	}
	m.all = []prometheus.Collector{m.recordsIn, m.recordsOut, m.deadLetters, m.mismatchStates, m.reasons, m.lag,
		m.watermarkDelay, m.stateKeys, m.stateBytes, m.flushSeconds, m.commitSeconds, m.retries, m.tasks,
		m.checkpoints, m.restoreSeconds}
	return m
}
