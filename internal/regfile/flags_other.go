//go:build !unix

package regfile

import "os"

// openFlags: the special files of Unix are not met here.
const openFlags = os.O_RDONLY
