package alerts

import (
	"context"
	"strings"
)

// HeldCodes maps each held reply code slot to the alert holding it, for
// tests that check no code leaks; resting codes (released, CodeQuiet not
// yet over) are not held.
func (s *Service) HeldCodes(ctx context.Context) (map[string]string, error) {
	infos, err := s.st.List(ctx, s.prefix+"codes/")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, in := range infos {
		var rec codeRecord
		_, held, err := s.readSlot(ctx, in.Key, &rec)
		if err != nil {
			return nil, err
		}
		if held && rec.ReleasedAt.IsZero() {
			out[strings.TrimSuffix(strings.TrimPrefix(in.Key, s.prefix+"codes/"), ".json")] = rec.AlertID
		}
	}
	return out, nil
}
