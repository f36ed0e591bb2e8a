package replay

import (
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MaxPage bounds the recordings of one page of GET /recordings.
const MaxPage = 10000

// page selects from recs, sorted by name, what the query asks of GET
// /recordings: names starting with prefix=, after the name after=, at
// most limit= of them. next is the after= of the next page, empty after
// the last. Without these parameters every recording is listed.
func page(recs []Recording, q url.Values) (out []Recording, next string, err error) {
	prefix, after := q.Get("prefix"), q.Get("after")
	limit := len(recs)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPage {
			return nil, "", errors.New("limit: want 1 to " + strconv.Itoa(MaxPage))
		}
		limit = n
	}
	i := sort.Search(len(recs), func(i int) bool { return recs[i].Name > after && recs[i].Name >= prefix })
	for ; i < len(recs) && strings.HasPrefix(recs[i].Name, prefix); i++ {
		if len(out) == limit {
			return out, out[len(out)-1].Name, nil
		}
		out = append(out, recs[i])
	}
	if out == nil {
		out = []Recording{}
	}
	return out, "", nil
}
