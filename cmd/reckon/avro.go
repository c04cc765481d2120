package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/reckon-dev/reckon/schemas"
)

// newAvroCmd is "reckon avro": tools for engineers debugging schema
// evolution.
func newAvroCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "avro",
		Short: "Decode Avro data with schema resolution",
	}
	cmd.AddCommand(newAvroDecodeCmd())
	return cmd
}

func newAvroDecodeCmd() *cobra.Command {
	var writerFile, readerFile string
	var framed bool
	var reg registryFlags
	cmd := &cobra.Command{
		Use:   "decode (--writer W.avsc | --framed [--registry URL]) [--reader R.avsc]",
		Short: "Read concatenated Avro binary datums from stdin and print each, resolved to the reader schema, as one JSON line",
		Long: `Read Avro binary datums written with the writer schema, one after the
other, from standard input until EOF. Resolve each to the reader schema (the
Avro specification's schema resolution) and print it as one line of plain
JSON: unions unwrapped, timestamps in RFC 3339, decimals as strings, bytes as
base64. When no datum of the writer can be read as the reader, print every
incompatibility and exit 1.

With --framed, read instead one message in the Confluent wire format (magic
byte 0, 4-byte schema id, Avro body), fetch its writer schema from the
registry by id, and print it resolved to the reader schema (default: the
writer schema).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if framed == (writerFile != "") {
				return &exitError{code: 2, err: errors.New("give either --writer or --framed")}
			}
			if framed {
				var reader *schemas.Schema
				if readerFile != "" {
					r, err := readSchemaFile(readerFile)
					if err != nil {
						return err
					}
					reader = r
				}
				return decodeFramed(cmd, &reg, reader, cmd.InOrStdin())
			}
			writer, err := readSchemaFile(writerFile)
			if err != nil {
				return err
			}
			reader := writer
			if readerFile != "" {
				if reader, err = readSchemaFile(readerFile); err != nil {
					return err
				}
			}
			res, err := schemas.NewResolver(writer, reader)
			if err != nil {
				return err
			}
			in, err := io.ReadAll(cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("read stdin: %w", err)
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			var line []byte
			for n, total := 0, len(in); len(in) > 0; n++ {
				v, rest, err := res.DecodeNext(in)
				if err != nil {
					out.Flush()
					return fmt.Errorf("datum %d (at byte %d): %w", n, total-len(in), err)
				}
				if line, err = reader.AppendJSON(line[:0], v); err != nil {
					out.Flush()
					return fmt.Errorf("datum %d: %w", n, err)
				}
				out.Write(append(line, '\n'))
				in = rest
			}
			return out.Flush()
		},
	}
	cmd.Flags().StringVar(&writerFile, "writer", "", "file with the writer schema (unless --framed)")
	cmd.Flags().StringVar(&readerFile, "reader", "", "file with the reader schema (default: the writer schema)")
	cmd.Flags().BoolVar(&framed, "framed", false, "read one Confluent-framed message and fetch its writer schema from the registry")
	reg.add(cmd.Flags())
	return cmd
}

// readSchemaFile parses the Avro schema in file.
func readSchemaFile(file string) (*schemas.Schema, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := schemas.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// newSchemasCmd is "reckon schemas": compatibility checks and the
// registry's subjects.
func newSchemasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schemas",
		Short: "Check Avro schema compatibility, register and list schemas",
	}
	cmd.AddCommand(newSchemasCheckCmd(), newSchemasRegisterCmd(), newSchemasListCmd())
	return cmd
}

func newSchemasCheckCmd() *cobra.Command {
	var readerFile, level, subject string
	var writerFiles []string
	var reg registryFlags
	cmd := &cobra.Command{
		Use:   "check --reader FILE (--writer FILE... | --subject S [--registry URL]) [--level L]",
		Short: "Check a reader schema against writer schemas, and exit 1 listing every incompatibility",
		Long: `Check the candidate schema in --reader against the history of schemas
given with --writer (oldest first, repeat the flag) at a compatibility level:
BACKWARD (default: the candidate reads the latest writer), FORWARD, FULL,
their _TRANSITIVE forms (against every writer) or NONE. Prints "compatible",
or every incompatibility with its path and reason and exits 1.

With --subject, check the reader as reckon does before a run or a replay: the
history is the subject's versions in the schema registry (every version at a
_TRANSITIVE level, the latest otherwise), plus any --writer files (always
checked), and the default level is BACKWARD_TRANSITIVE, since a reader must
read every version a topic holds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if subject == "" && len(writerFiles) == 0 {
				return &exitError{code: 2, err: errors.New("give --subject or at least one --writer")}
			}
			if level == "" {
				level = "BACKWARD"
				if subject != "" {
					level = "BACKWARD_TRANSITIVE"
				}
			}
			lvl, err := schemas.ParseLevel(level)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			candidate, err := readSchemaFile(readerFile)
			if err != nil {
				return err
			}
			if subject != "" {
				return checkSubject(cmd, &reg, subject, candidate, lvl, writerFiles)
			}
			var history []*schemas.Schema
			for _, f := range writerFiles {
				s, err := readSchemaFile(f)
				if err != nil {
					return err
				}
				history = append(history, s)
			}
			incs := schemas.Check(lvl, candidate, history)
			w := cmd.OutOrStdout()
			if len(incs) == 0 {
				_, err := fmt.Fprintf(w, "compatible (%s)\n", lvl)
				return err
			}
			for _, inc := range incs {
				fmt.Fprintf(w, "%s: %s\n", writerFiles[inc.Version-1], inc)
			}
			return errors.New("incompatible (" + lvl.String() + ")")
		},
	}
	cmd.Flags().StringVar(&readerFile, "reader", "", "file with the candidate (reader) schema (required)")
	cmd.Flags().StringArrayVar(&writerFiles, "writer", nil, "file with a writer schema of the history, oldest first (repeatable)")
	cmd.Flags().StringVar(&subject, "subject", "", "check against this registry subject's history, e.g. payments-value")
	cmd.Flags().StringVar(&level, "level", "", "compatibility level (default BACKWARD, or BACKWARD_TRANSITIVE with --subject)")
	reg.add(cmd.Flags())
	cmd.MarkFlagRequired("reader")
	return cmd
}
