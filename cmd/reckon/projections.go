package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/reckon-dev/reckon/projections"
)

// Environment variables of the projection commands.
const (
	envStore             = "RECKON_STORE"
	envCassandraPassword = "RECKON_CASSANDRA_PASSWORD"
)

// storeFlag adds --store to cmd and returns its value.
func storeFlag(cmd *cobra.Command) *string {
	s := new(string)
	cmd.Flags().StringVar(s, "store", "",
		"projection store: sqlite:PATH or cassandra://HOST[,HOST…]/KEYSPACE[?…] (default $"+envStore+", else "+projections.DefaultStoreURL+"); "+
			"the Cassandra password is read from $"+envCassandraPassword)
	return s
}

// openStore opens an existing store named by flag, $RECKON_STORE or the
// default, taking a Cassandra password from $RECKON_CASSANDRA_PASSWORD.
func openStore(ctx context.Context, flag string) (projections.Store, error) {
	url := flag
	if url == "" {
		url = os.Getenv(envStore)
	}
	if url == "" {
		url = projections.DefaultStoreURL
	}
	s, err := projections.Open(ctx, url, projections.WithCreate(false), projections.WithPassword(os.Getenv(envCassandraPassword)))
	if err != nil && strings.HasPrefix(url, "sqlite:") {
		return nil, fmt.Errorf("%w (name another store with --store or $%s)", err, envStore)
	}
	return s, err
}

// formatFlag adds --format text|json to cmd.
func formatFlag(cmd *cobra.Command) *string {
	return cmd.Flags().String("format", "text", "output format: text or json")
}

func checkFormat(f string) error {
	if f != "text" && f != "json" {
		return &exitError{code: 2, err: fmt.Errorf("--format %q: use text or json", f)}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newProjectionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "List projection versions and compare them",
	}
	cmd.AddCommand(newProjectionsListCmd(), newProjectionsDiffCmd())
	return cmd
}

// listOutput is the JSON output of projections list.
type listOutput struct {
	Versions []projections.VersionInfo `json:"versions"`
	// Live maps each projection with a live version to it.
	Live map[string]int `json:"live"`
}

func newProjectionsListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [NAME]",
		Short: "List projection versions: status, row counts, and the live pointer",
		Args:  cobra.MaximumNArgs(1),
	}
	store, format := storeFlag(cmd), formatFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		s, err := openStore(cmd.Context(), *store)
		if err != nil {
			return err
		}
		defer s.Close()
		name := ""
		if len(args) == 1 {
			name = args[0]
		}
		vs, err := s.Versions(cmd.Context(), name)
		if err != nil {
			return err
		}
		out := listOutput{Versions: vs, Live: map[string]int{}}
		var names []string
		for _, v := range vs {
			if v.Status == projections.StatusLive {
				out.Live[v.Projection] = v.Version
			}
			if len(names) == 0 || names[len(names)-1] != v.Projection {
				names = append(names, v.Projection)
			}
		}
		w := cmd.OutOrStdout()
		if *format == "json" {
			if out.Versions == nil {
				out.Versions = []projections.VersionInfo{}
			}
			return writeJSON(w, out)
		}
		if len(vs) == 0 {
			_, err := fmt.Fprintln(w, "no projections")
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROJECTION\tVERSION\tSTATUS\tROWS\tGRAPH\tFINGERPRINT\tUPDATED")
		for _, v := range vs {
			fmt.Fprintf(tw, "%s\tv%d\t%s\t%d\t%s\t%s\t%s\n", v.Projection, v.Version, v.Status, v.Rows, v.GraphName,
				v.Fingerprint, v.Updated.UTC().Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, n := range names {
			if v, ok := out.Live[n]; ok {
				fmt.Fprintf(w, "live: %s -> %s\n", n, projections.TableName(n, v))
			} else {
				fmt.Fprintf(w, "live: %s -> none\n", n)
			}
		}
		return nil
	}
	return cmd
}

// parseVersion reads "2" or "v2".
func parseVersion(flag, s string) (int, error) {
	if s == "" {
		return 0, &exitError{code: 2, err: fmt.Errorf("--%s is required", flag)}
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "v"))
	if err != nil || n < 1 {
		return 0, &exitError{code: 2, err: fmt.Errorf("--%s %q: want a version such as v2", flag, s)}
	}
	return n, nil
}

func newProjectionsDiffCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff NAME --from vA --to vB",
		Short: "Compare two versions of a projection: row counts, added, removed and changed keys",
		Args:  cobra.ExactArgs(1),
	}
	store, format := storeFlag(cmd), formatFlag(cmd)
	from := cmd.Flags().String("from", "", "the version to compare from (required)")
	to := cmd.Flags().String("to", "", "the version to compare to (required)")
	sample := cmd.Flags().Int("sample", 10, "how many added, removed and changed keys to show")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		a, err := parseVersion("from", *from)
		if err != nil {
			return err
		}
		b, err := parseVersion("to", *to)
		if err != nil {
			return err
		}
		if *sample < 0 {
			return &exitError{code: 2, err: fmt.Errorf("--sample %d: must not be negative", *sample)}
		}
		s, err := openStore(cmd.Context(), *store)
		if err != nil {
			return err
		}
		defer s.Close()
		rep, err := projections.Diff(cmd.Context(), s, args[0], a, b, *sample)
		if err != nil {
			return err
		}
		if *format == "json" {
			return writeJSON(cmd.OutOrStdout(), rep)
		}
		return writeDiff(cmd.OutOrStdout(), rep)
	}
	return cmd
}

func writeDiff(w io.Writer, r *projections.DiffReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s v%d -> v%d\n", r.Projection, r.From, r.To)
	fmt.Fprintf(tw, "rows\t%d -> %d\n", r.FromRows, r.ToRows)
	fmt.Fprintf(tw, "added\t%d\nremoved\t%d\nchanged\t%d\nunchanged\t%d\n", r.Added, r.Removed, r.Changed, r.Unchanged)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.ColumnsAdded) > 0 {
		fmt.Fprintf(w, "columns added: %s\n", strings.Join(r.ColumnsAdded, ", "))
	}
	if len(r.ColumnsRemoved) > 0 {
		fmt.Fprintf(w, "columns removed: %s\n", strings.Join(r.ColumnsRemoved, ", "))
	}
	if len(r.AddedKeys) > 0 {
		fmt.Fprintf(w, "added keys (first %d): %s\n", len(r.AddedKeys), strings.Join(r.AddedKeys, ", "))
	}
	if len(r.RemovedKeys) > 0 {
		fmt.Fprintf(w, "removed keys (first %d): %s\n", len(r.RemovedKeys), strings.Join(r.RemovedKeys, ", "))
	}
	if len(r.ChangedRows) > 0 {
		fmt.Fprintf(w, "changed rows (first %d):\n", len(r.ChangedRows))
		for _, c := range r.ChangedRows {
			fmt.Fprintf(w, "  %s\n", c.Key)
			for _, col := range c.Columns {
				fmt.Fprintf(w, "    %s: %s -> %s\n", col.Column, col.From, col.To)
			}
		}
	}
	return nil
}

func newPromoteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "promote NAME --version N",
		Short: "Make a ready projection version live (atomically); the live one is retired",
		Args:  cobra.ExactArgs(1),
	}
	store := storeFlag(cmd)
	version := cmd.Flags().String("version", "", "the ready version to promote, such as v2 (required)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		v, err := parseVersion("version", *version)
		if err != nil {
			return err
		}
		s, err := openStore(cmd.Context(), *store)
		if err != nil {
			return err
		}
		defer s.Close()
		name := args[0]
		_, was, _ := s.Resolve(cmd.Context(), name)
		if err := s.Promote(cmd.Context(), name, v); err != nil {
			return err
		}
		if was == 0 {
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: v%d is live\n", name, v)
		} else {
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: v%d is live (v%d retired)\n", name, v, was)
		}
		return err
	}
	return cmd
}

func newRollbackCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Make the previously live projection version live again (atomically)",
		Args:  cobra.ExactArgs(1),
	}
	store := storeFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := openStore(cmd.Context(), *store)
		if err != nil {
			return err
		}
		defer s.Close()
		name := args[0]
		_, was, _ := s.Resolve(cmd.Context(), name)
		v, err := s.Rollback(cmd.Context(), name)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: v%d is live again (v%d retired)\n", name, v, was)
		return err
	}
	return cmd
}
