//go:build !unix

package schemas

import "os"

// lockFile does nothing where the platform has no flock: on such systems the
// operator must not point two registries at one directory.
func lockFile(*os.File) error { return nil }
