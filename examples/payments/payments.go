// Package payments is reckon's reference graph: card payments reconciled
// against ledger entries. It is used by `reckon dev`, the tests and the
// benchmarks.
//
// Payments (payment_id, merchant_id, amount_minor, currency, status,
// created_at, …) are matched with ledger entries (entry_id, payment_id,
// amount_minor, currency, direction, booked_at, …) by payment_id within 24
// hours of event time, reconciled on amount (exact), currency and a
// status↔direction mapping, projected into payment_status (by payment_id)
// and merchant_daily_totals (a daily tumbling window by merchant), and the
// reconciliation state of every payment is published to
// reconciliation-mismatches.
package payments

import (
	"embed"
	"time"

	"github.com/reckon-dev/reckon/operators"
)

// Topic names; registry subjects are "<topic>-value".
const (
	TopicPayments   = "payments"
	TopicLedger     = "ledger-entries"
	TopicMismatches = "reconciliation-mismatches"
)

// GraphName is the name of the reference graph.
const GraphName = "payments"

// MatchWindow is how far apart in event time a payment and its ledger
// entry may be.
const MatchWindow = 24 * time.Hour

// Lateness is the allowed lateness of both inputs.
const Lateness = time.Hour

//go:embed schemas/*.avsc
var schemaFiles embed.FS

func schema(name string) string {
	b, err := schemaFiles.ReadFile("schemas/" + name + ".avsc")
	if err != nil {
		// The files are embedded at build time; a missing one is a build
		// defect that every test catches.
		panic(err)
	}
	return string(b)
}

// Schemas of the reference topics (Avro JSON).
var (
	PaymentV1 = schema("payment-v1")
	PaymentV2 = schema("payment-v2")
	LedgerV1  = schema("ledger-entry-v1")
	LedgerV2  = schema("ledger-entry-v2")
	// Mismatch is the schema of the reconciler's records.
	Mismatch = operators.MismatchSchema
)

// StatusDirection maps a payment status to the ledger direction it books.
var StatusDirection = map[string]string{"CAPTURED": "CREDIT", "REFUNDED": "DEBIT", "DISPUTED": "DEBIT"}

// Graph builds and validates the reference graph at a version.
func Graph(version int) (*operators.Graph, error) {
	g := operators.NewGraph(GraphName, version)
	pay := g.Input(TopicPayments,
		operators.KeyField("payment_id"), operators.TimeField("created_at"),
		operators.AllowedLateness(Lateness), operators.ReaderSchema(PaymentV2))
	led := g.Input(TopicLedger,
		operators.KeyField("payment_id"), operators.TimeField("booked_at"),
		operators.AllowedLateness(Lateness), operators.ReaderSchema(LedgerV2))
	g.CoPartition(TopicPayments, TopicLedger)

	// Failed and merely authorized payments book nothing in the ledger.
	booked := g.Filter("booked-payments", pay, func(e operators.Event) bool {
		s, err := e.Value.String("status")
		return err == nil && s != "FAILED" && s != "AUTHORIZED"
	})
	m := g.Match("payment-vs-ledger", booked, led, MatchWindow)
	rec := g.Reconcile("amounts", m.Matched,
		operators.Equal("amount_minor"),
		operators.Equal("currency"),
		operators.Mapped("status", "direction", StatusDirection),
	)
	g.Project(m.Matched, operators.Table("payment_status").
		PartitionKey("payment_id").
		Columns("merchant_id", "amount_minor", "currency", "status", "created_at").
		Column("ledger_entry_id", "right.entry_id", operators.TypeUnknown).
		Column("ledger_amount_minor", "right.amount_minor", operators.TypeUnknown).
		Column("direction", "right.direction", operators.TypeUnknown).
		Column("booked_at", "right.booked_at", operators.TypeUnknown))

	daily := g.Window("merchant-daily", booked,
		operators.Tumbling(24*time.Hour), operators.GroupBy("merchant_id"),
		operators.Count("payments"), operators.Sum("amount_minor_total", "amount_minor"))
	g.Project(daily, operators.Table("merchant_daily_totals").
		PartitionKey("merchant_id").
		ClusteringKey("window_start", "partition").
		Columns("payments", "amount_minor_total"))

	g.Publish(rec.Mismatches, TopicMismatches, "", Mismatch)
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}
