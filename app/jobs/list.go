package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oncall/pager/store"
)

// List returns the jobs whose ID starts with idPrefix, active or done,
// ordered by ID: a caller that splits one piece of work into jobs with a
// common prefix ("ntf-<id>-0001", "ntf-<id>-0002" …) reads them back
// together. A job in both active/ and done/ (reopened by Update, or being
// finished) is returned once, as Get would return it. A job that cannot be
// parsed is left out (the runner moves it aside); a store error fails the
// whole List, so a partial answer is never mistaken for the whole.
func (q *Queue) List(ctx context.Context, idPrefix string) ([]Job, error) {
	if idPrefix != "" && !validID(strings.TrimRight(idPrefix, "._-")) {
		return nil, fmt.Errorf("%w: id prefix %q", ErrInvalidJob, idPrefix)
	}
	ids := map[string]bool{} // id -> listed in active/
	for _, active := range []bool{true, false} {
		dir := q.prefix + "done/"
		if active {
			dir = q.activePrefix()
		}
		infos, err := q.st.List(ctx, dir+idPrefix)
		if q.observe("list", err) != nil {
			return nil, fmt.Errorf("jobs: list %s: %w", idPrefix, err)
		}
		for _, in := range infos {
			id, ok := strings.CutSuffix(strings.TrimPrefix(in.Key, dir), ".json")
			if !ok || !validID(id) {
				continue
			}
			ids[id] = ids[id] || active
		}
	}
	out := make([]Job, 0, len(ids))
	for id, active := range ids {
		keys := []string{q.doneKey(id)}
		if active {
			// Finished since the listing: it is in done/ by now.
			keys = []string{q.activeKey(id), q.doneKey(id)}
		}
		for _, key := range keys {
			obj, err := q.st.Get(ctx, key)
			if errors.Is(q.observe("get", err), store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("jobs: list %s: get %s: %w", idPrefix, id, err)
			}
			j, err := decode(id, obj.Data)
			if err != nil {
				q.log.Warn("jobs: unreadable job left out of a listing", "id", id, "err", err)
				break
			}
			out = append(out, j)
			break
		}
	}
	slices.SortFunc(out, func(a, b Job) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
