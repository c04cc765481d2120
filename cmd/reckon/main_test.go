package main

import (
	"encoding/hex"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// main itself, so that scripts can stop a command with a signal.
		"reckon": main,
	})
}

// TestScripts runs the CLI as a user types it: testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/script",
		Setup: setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"hexdecode": hexdecode,
		},
	})
}

// setupScript gives each script a free local port in $REGISTRY_ADDR for a
// registry it starts in the background.
func setupScript(env *testscript.Env) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	env.Setenv("REGISTRY_ADDR", ln.Addr().String())
	return ln.Close()
}

// hexdecode IN OUT writes the bytes spelled in hex in file IN (whitespace
// ignored) to file OUT, so that scripts can hold binary input.
func hexdecode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: hexdecode IN OUT")
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(ts.ReadFile(args[0])), ""))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
}
