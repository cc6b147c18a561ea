package alerts

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// Only an error made wholly of PageErrors, however wrapped and joined, tells
// who was not paged; any other part makes everyone count as not paged.
func TestUnpaged(t *testing.T) {
	pe := func(u string) error { return &PageError{UserID: u, Err: errors.New("503")} }
	cases := []struct {
		name string
		err  error
		want []string
		ok   bool
	}{
		{"one", pe("bob"), []string{"bob"}, true},
		{"joined and wrapped", fmt.Errorf("page: %w", errors.Join(pe("bob"), fmt.Errorf("x: %w", pe("dave")))), []string{"bob", "dave"}, true},
		{"unattributed part", errors.Join(pe("bob"), errors.New("store down")), nil, false},
		{"plain", errors.New("twilio down"), nil, false},
	}
	for _, c := range cases {
		got, ok := unpaged(c.err)
		if ok != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%s: unpaged = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
