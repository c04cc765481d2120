// Package testenv tells tests which external tools this machine has.
//
// Interoperability tests use real peers (kcat, Debian's python3 with
// python3-avro and python3-confluent-kafka, Node.js). Outside CI a test whose
// tool is missing is skipped with the reason; when the CI environment
// variable is set, a missing tool fails the test instead, so a CI run can
// never count a skipped interop test as passing.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// DebianPython is the interpreter that has Debian's python3-* packages; a
// pyenv python3 earlier on PATH does not.
const DebianPython = "/usr/bin/python3"

// Missing skips t, or fails it under CI, because what is missing.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must provide %s (install it in .ci/run)", what)
	}
	t.Skipf("skipped: %s is not installed (.ci/run installs it)", what)
}

// Tool returns the path of the command name, or calls Missing.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name)
	}
	return path
}

// Python returns DebianPython after checking that it imports every module
// in modules, or calls Missing.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	if _, err := os.Stat(DebianPython); err != nil {
		Missing(t, DebianPython)
	}
	for _, m := range modules {
		if err := exec.Command(DebianPython, "-c", "import "+m).Run(); err != nil {
			Missing(t, "python module "+m+" for "+DebianPython)
		}
	}
	return DebianPython
}
