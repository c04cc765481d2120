package schemas_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/reckon-dev/reckon/schemas"
)

const (
	paymentV1 = `{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"}]}`
	paymentV2 = `{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"},{"name":"channel","type":"string","default":"WEB"}]}`
	// paymentV3 needs a field older data lacks: not BACKWARD compatible.
	paymentV3 = `{"type":"record","name":"Payment","fields":[{"name":"id","type":"string"},{"name":"amount","type":"long"}]}`
)

func parse(avsc string) *schemas.Schema {
	s, err := schemas.Parse(avsc)
	if err != nil {
		panic(err)
	}
	return s
}

// serve runs reg on a local port until the returned stop is called.
func serve(reg *schemas.Registry) (url string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx, ln) }()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		<-done
	}
}

// An embedded registry kept in a directory, and a client registering and
// reading schemas. Ids survive a restart.
func ExampleOpenRegistry() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "registry")
	defer os.RemoveAll(dir)

	reg, err := schemas.OpenRegistry(ctx, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	url, stop := serve(reg)
	client, _ := schemas.NewClient(url)
	id1, _ := client.Register(ctx, "payments-value", parse(paymentV1))
	id2, _ := client.Register(ctx, "payments-value", parse(paymentV2))
	again, _ := client.Register(ctx, "payments-value", parse(paymentV1))
	fmt.Println("ids:", id1, id2, again)
	stop()
	reg.Close()

	reg, _ = schemas.OpenRegistry(ctx, dir) // a restart
	defer reg.Close()
	url, stop = serve(reg)
	defer stop()
	client, _ = schemas.NewClient(url)
	latest, _ := client.Latest(ctx, "payments-value")
	fmt.Println("after restart: version", latest.Version, "id", latest.ID)
	// Output:
	// ids: 1 2 1
	// after restart: version 2 id 2
}

// A schema that breaks the subject's compatibility level is refused; the
// error says why and routes with errors.Is.
func ExampleClient_Register() {
	ctx := context.Background()
	reg, _ := schemas.NewRegistry(ctx, schemas.NewMemoryStore())
	defer reg.Close()
	url, stop := serve(reg)
	defer stop()

	client, _ := schemas.NewClient(url)
	client.Register(ctx, "payments-value", parse(paymentV1))
	_, err := client.Register(ctx, "payments-value", parse(paymentV3))
	fmt.Println(errors.Is(err, schemas.ErrIncompatible))
	var re *schemas.RegistryError
	if errors.As(err, &re) {
		fmt.Println("error code", re.Code)
	}
	// Output:
	// true
	// error code 409
}

// The client is the Decoder's SchemaSource: writer schemas come from the
// registry once per id. An id the registry does not know is a bad record.
func ExampleClient_SchemaByID() {
	ctx := context.Background()
	reg, _ := schemas.NewRegistry(ctx, schemas.NewMemoryStore())
	defer reg.Close()
	url, stop := serve(reg)
	defer stop()

	client, _ := schemas.NewClient(url, schemas.WithUnknownIDRetries(0))
	id, _ := client.Register(ctx, "payments-value", parse(paymentV1))
	dec, _ := schemas.NewDecoder(client, parse(paymentV2))
	body, _ := parse(paymentV1).AppendBinary(nil, map[string]any{"id": "p-1"})
	value, _, err := dec.Decode(ctx, "payments", 0, 0, schemas.AppendFrame(nil, id, body))
	fmt.Println(value, err)

	_, _, err = dec.Decode(ctx, "payments", 0, 1, schemas.AppendFrame(nil, 99, body))
	fmt.Println(errors.Is(err, schemas.ErrUnknownSchema))
	// Output:
	// map[channel:WEB id:p-1] <nil>
	// true
}

// The start-up gate checks a graph's reader schema against every writer
// schema of a subject, and reports each incompatibility.
func ExampleGate() {
	ctx := context.Background()
	reg, _ := schemas.NewRegistry(ctx, schemas.NewMemoryStore())
	defer reg.Close()
	url, stop := serve(reg)
	defer stop()
	client, _ := schemas.NewClient(url)
	client.Register(ctx, "payments-value", parse(paymentV1))
	client.Register(ctx, "payments-value", parse(paymentV2))

	report, err := schemas.Gate(ctx, client, "payments-value", parse(paymentV2), schemas.BackwardTransitive)
	fmt.Println(len(report.Checked), "writers checked:", err)

	_, err = schemas.Gate(ctx, client, "payments-value", parse(paymentV3), schemas.BackwardTransitive)
	fmt.Println(err)
	// Output:
	// 2 writers checked: <nil>
	// schemas: reader schema is incompatible (BACKWARD_TRANSITIVE) with 2 of 2 writer schemas of subject "payments-value":
	//   subject "payments-value" version 1 (id 1):
	//     backward: /fields/amount: reader_field_missing_default_value: reader field amount has no default and the writer lacks it
	//   subject "payments-value" version 2 (id 2):
	//     backward: /fields/amount: reader_field_missing_default_value: reader field amount has no default and the writer lacks it
}
