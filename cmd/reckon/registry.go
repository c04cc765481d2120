package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reckon-dev/reckon/schemas"
)

// defaultRegistryURL is the embedded registry of the dev stack.
const defaultRegistryURL = "http://127.0.0.1:8081"

// registryFlags are the flags of every command that talks to a registry.
// The password is read from RECKON_REGISTRY_PASSWORD only, so that it never
// shows in a process list.
type registryFlags struct {
	url     string
	user    string
	caFile  string
	timeout time.Duration
}

func (f *registryFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "registry", "", "schema registry URL (default $RECKON_REGISTRY_URL, else "+defaultRegistryURL+")")
	fs.StringVar(&f.user, "registry-user", "", "basic-auth user (default $RECKON_REGISTRY_USER); the password comes from $RECKON_REGISTRY_PASSWORD")
	fs.StringVar(&f.caFile, "registry-ca", "", "PEM file of the CA that signed an https registry's certificate (default: the system's roots)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up when the registry has not answered for this long (it is retried until then)")
}

// client returns a registry client and a context bounded by --timeout.
func (f *registryFlags) client(ctx context.Context) (*schemas.Client, context.Context, context.CancelFunc, error) {
	url := f.url
	if url == "" {
		url = os.Getenv("RECKON_REGISTRY_URL")
	}
	if url == "" {
		url = defaultRegistryURL
	}
	var opts []schemas.ClientOpt
	user := f.user
	if user == "" {
		user = os.Getenv("RECKON_REGISTRY_USER")
	}
	if user != "" {
		opts = append(opts, schemas.WithBasicAuth(user, os.Getenv("RECKON_REGISTRY_PASSWORD")))
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, nil, nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, nil, fmt.Errorf("%s: no PEM certificate", f.caFile)
		}
		opts = append(opts, schemas.WithTLS(&tls.Config{RootCAs: pool}))
	}
	c, err := schemas.NewClient(url, opts...)
	if err != nil {
		return nil, nil, nil, &exitError{code: 2, err: err}
	}
	if f.timeout <= 0 {
		return nil, nil, nil, &exitError{code: 2, err: fmt.Errorf("--timeout %v is not positive", f.timeout)}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	return c, ctx, cancel, nil
}

// newRegistryCmd is "reckon registry": the embedded schema registry.
func newRegistryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run reckon's embedded schema registry",
	}
	cmd.AddCommand(newRegistryServeCmd())
	return cmd
}

func newRegistryServeCmd() *cobra.Command {
	var addr, dir, user, level string
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--dir DIR]",
		Short: "Serve the Confluent Schema Registry API, keeping schemas in DIR",
		Long: `Serve reckon's embedded schema registry: the Confluent Schema Registry
REST API (Avro schemas only), with global schema ids, compatibility enforced
on register, and every change appended and fsynced to DIR/schemas.log, so ids
never change across restarts. With --user, requests need basic auth with that
user and the password in $RECKON_REGISTRY_PASSWORD. Runs until interrupted
(SIGINT or SIGTERM), then finishes the requests in flight and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				user = os.Getenv("RECKON_REGISTRY_USER")
			}
			lvl, err := schemas.ParseLevel(level)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			opts := []schemas.RegistryOpt{schemas.WithLogger(logger), schemas.WithDefaultLevel(lvl)}
			if user != "" {
				opts = append(opts, schemas.WithBasicAuth(user, os.Getenv("RECKON_REGISTRY_PASSWORD")))
			}
			ctx := cmd.Context()
			reg, err := schemas.OpenRegistry(ctx, dir, opts...)
			if err != nil {
				return err
			}
			defer reg.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			logger.Info("schema registry serving", "url", "http://"+ln.Addr().String(), "dir", dir)
			if err := reg.Run(ctx, ln); err != nil {
				return err
			}
			logger.Info("schema registry stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "address to listen on")
	cmd.Flags().StringVar(&dir, "dir", ".reckon/registry", "directory of the registry's log (created if missing)")
	cmd.Flags().StringVar(&user, "user", "", "require basic auth as this user (default $RECKON_REGISTRY_USER; password from $RECKON_REGISTRY_PASSWORD)")
	cmd.Flags().StringVar(&level, "level", "BACKWARD", "compatibility level until one is set with PUT /config")
	return cmd
}

func newSchemasRegisterCmd() *cobra.Command {
	var reg registryFlags
	var subject, schemaFile string
	cmd := &cobra.Command{
		Use:   "register --subject S --schema FILE [--registry URL]",
		Short: "Register an Avro schema under a subject and print its id",
		Long: `Register the Avro schema in FILE under the subject and print its schema
id. Registering a schema the subject already has prints its existing id. A
schema the subject's compatibility level refuses fails with the registry's
reasons (exit 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := readSchemaFile(schemaFile)
			if err != nil {
				return err
			}
			c, ctx, cancel, err := reg.client(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			id, err := c.Register(ctx, subject, s)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), id)
			return err
		},
	}
	reg.add(cmd.Flags())
	cmd.Flags().StringVar(&subject, "subject", "", "subject to register under, e.g. payments-value (required)")
	cmd.Flags().StringVar(&schemaFile, "schema", "", "file with the Avro schema (required)")
	cmd.MarkFlagRequired("subject")
	cmd.MarkFlagRequired("schema")
	return cmd
}

// listedSubject is one subject in "reckon schemas list --format json".
type listedSubject struct {
	Subject  string          `json:"subject"`
	Versions []listedVersion `json:"versions"`
}

type listedVersion struct {
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Name    string `json:"name"`
}

func newSchemasListCmd() *cobra.Command {
	var reg registryFlags
	var format string
	cmd := &cobra.Command{
		Use:   "list [--registry URL] [--format text|json]",
		Short: "List the registry's subjects with their versions and schema ids",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: want text or json", format)}
			}
			c, ctx, cancel, err := reg.client(cmd.Context())
			if err != nil {
				return err
			}
			defer cancel()
			subjects, err := c.Subjects(ctx)
			if err != nil {
				return err
			}
			out := []listedSubject{}
			for _, s := range subjects {
				h, err := c.History(ctx, s)
				if errors.Is(err, schemas.ErrNotFound) {
					continue // deleted since Subjects answered
				}
				if err != nil {
					return err
				}
				ls := listedSubject{Subject: s}
				for _, sv := range h {
					ls.Versions = append(ls.Versions, listedVersion{Version: sv.Version, ID: sv.ID, Name: sv.Schema.Name()})
				}
				out = append(out, ls)
			}
			if format == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			return writeSubjectTable(cmd.OutOrStdout(), out)
		},
	}
	reg.add(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", "text", "output format: text (a table) or json")
	return cmd
}

func writeSubjectTable(w io.Writer, subjects []listedSubject) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SUBJECT\tVERSION\tID\tSCHEMA")
	for _, s := range subjects {
		for _, v := range s.Versions {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", s.Subject, v.Version, v.ID, v.Name)
		}
	}
	return tw.Flush()
}

// checkSubject is "reckon schemas check --subject": the start-up gate run
// by hand. The reader is checked against the subject's history in the
// registry and against the --writer files, at level.
func checkSubject(cmd *cobra.Command, reg *registryFlags, subject string, reader *schemas.Schema, level schemas.Level, writerFiles []string) error {
	var extra []schemas.WriterSchema
	for _, f := range writerFiles {
		s, err := readSchemaFile(f)
		if err != nil {
			return err
		}
		extra = append(extra, schemas.WriterSchema{Origin: f, Schema: s})
	}
	c, ctx, cancel, err := reg.client(cmd.Context())
	if err != nil {
		return err
	}
	defer cancel()
	report, err := schemas.Gate(ctx, c, subject, reader, level, extra...)
	var ge *schemas.GateError
	if err != nil && !errors.As(err, &ge) {
		return err
	}
	w := cmd.OutOrStdout()
	for _, p := range report.Problems {
		for _, in := range p.Incompatibilities {
			fmt.Fprintf(w, "%s: %s: %s: %s: %s\n", origin(p.Writer), in.Direction, in.Path, in.Kind, in.Reason)
		}
	}
	if ge != nil {
		return fmt.Errorf("incompatible (%s) with %d of %d writer schemas", level, len(report.Problems), len(report.Checked))
	}
	_, err = fmt.Fprintf(w, "compatible (%s) with %d writer schemas\n", level, len(report.Checked))
	return err
}

func origin(w schemas.WriterSchema) string {
	if w.ID != 0 {
		return fmt.Sprintf("%s (id %d)", w.Origin, w.ID)
	}
	return w.Origin
}

// decodeFramed is "reckon avro decode --framed": one Confluent-framed
// message from in, its writer schema fetched from the registry by id,
// resolved to reader (or to the writer schema itself when reader is nil)
// and printed as one line of plain JSON.
func decodeFramed(cmd *cobra.Command, reg *registryFlags, reader *schemas.Schema, in io.Reader) error {
	msg, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	id, body, err := schemas.ParseFrame(msg)
	if err != nil {
		return err
	}
	c, ctx, cancel, err := reg.client(cmd.Context())
	if err != nil {
		return err
	}
	defer cancel()
	writer, err := c.SchemaByID(ctx, id)
	if err != nil {
		return err
	}
	if reader == nil {
		reader = writer
	}
	res, err := schemas.NewResolver(writer, reader)
	if err != nil {
		return fmt.Errorf("writer schema id %d: %w", id, err)
	}
	v, err := res.Decode(body)
	if err != nil {
		return fmt.Errorf("schema id %d: %w", id, err)
	}
	line, err := reader.AppendJSON(nil, v)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(append(line, '\n'))
	return err
}
