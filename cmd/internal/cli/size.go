package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses a size flag: "" (0), a number of bytes, or one with a
// K, M or G suffix (powers of 1024, with an optional trailing B or iB).
// Zero and negative sizes are errors.
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 512M", s)
	}
	return v * mult, nil
}
