package replay

import (
	"net/url"
	"strings"
	"testing"
)

func TestPage(t *testing.T) {
	t.Parallel()
	var recs []Recording
	for _, n := range []string{"a/1", "a/2", "a/3", "b/1", "c"} {
		recs = append(recs, Recording{Name: n})
	}
	tests := []struct {
		name, query, want, next string
		err                     bool
	}{
		{"All", "", "a/1 a/2 a/3 b/1 c", "", false},
		{"Limit", "limit=2", "a/1 a/2", "a/2", false},
		{"After", "limit=2&after=a/2", "a/3 b/1", "b/1", false},
		{"Last", "limit=2&after=b/1", "c", "", false},
		{"Prefix", "prefix=a/&limit=2&after=a/2", "a/3", "", false},
		{"PrefixNone", "prefix=z", "", "", false},
		{"ErrLimit", "limit=0", "", "", true},
		{"ErrLimitWord", "limit=x", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, next, err := page(recs, q)
			if (err != nil) != tt.err {
				t.Fatalf("page(%q) error %v, want error %v", tt.query, err, tt.err)
			}
			var names []string
			for _, r := range got {
				names = append(names, r.Name)
			}
			if strings.Join(names, " ") != tt.want || next != tt.next {
				t.Errorf("page(%q) = %q next %q, want %q next %q", tt.query, names, next, tt.want, tt.next)
			}
		})
	}
}
