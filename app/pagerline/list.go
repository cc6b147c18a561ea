package pagerline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/oncall/pager/store"
)

// StoredVoicemail is a voicemail as kept in the store, for the console.
type StoredVoicemail struct {
	// Name is the recording's name: its key without "recordings/" and
	// ".mp3" (UTC time and call SID); Audio takes it.
	Name string
	Metadata
	// OnCallName is who was on call and paged first; AlertID and AlertCode
	// name its alert (whose history says who else was paged). Empty when
	// the voicemail job is gone.
	OnCallID, OnCallName string
	AlertID, AlertCode   string
}

const recordingsPrefix = "recordings/"

// VoicemailPage is one page of stored voicemails, newest first, and the
// cursor of the next ("" at the end).
type VoicemailPage struct {
	Voicemails []StoredVoicemail
	Next       string
}

// Voicemails lists stored voicemails newest first, limit per page, older
// than the cursor before. Keys sort by time, so a page reads only its own
// entries.
func (h *Handler) Voicemails(ctx context.Context, before string, limit int) (VoicemailPage, error) {
	if limit <= 0 || limit > 100 {
		limit = 25
	}
	keys, err := store.Keys(ctx, h.st, recordingsPrefix)
	if err != nil {
		return VoicemailPage{}, fmt.Errorf("pagerline: list voicemails: %w", err)
	}
	var p VoicemailPage
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		name, ok := strings.CutSuffix(strings.TrimPrefix(k, recordingsPrefix), ".json")
		if !ok || !validName(name) || (before != "" && name >= before) {
			continue
		}
		if len(p.Voicemails) == limit {
			p.Next = p.Voicemails[limit-1].Name
			break
		}
		obj, err := h.st.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return VoicemailPage{}, fmt.Errorf("pagerline: read %s: %w", k, err)
		}
		v := StoredVoicemail{Name: name}
		if err := json.Unmarshal(obj.Data, &v.Metadata); err != nil {
			continue
		}
		if job, err := h.q.Get(ctx, "vm-"+v.RecordingSID); err == nil {
			var vm Voicemail
			if job.Decode(&vm) == nil {
				v.OnCallID, v.OnCallName = vm.OnCallID, vm.OnCallName
				va := alertOf(&job, vm)
				v.AlertID, v.AlertCode = va.AlertID, va.Code
			}
		}
		p.Voicemails = append(p.Voicemails, v)
	}
	return p, nil
}

// Audio returns the stored audio of the voicemail name (see
// StoredVoicemail.Name).
func (h *Handler) Audio(ctx context.Context, name string) ([]byte, error) {
	if !validName(name) {
		return nil, fmt.Errorf("pagerline: voicemail %q: %w", name, store.ErrNotFound)
	}
	obj, err := h.st.Get(ctx, recordingsPrefix+name+".mp3")
	if err != nil {
		return nil, fmt.Errorf("pagerline: voicemail %s: %w", name, err)
	}
	return obj.Data, nil
}

// validName: names come back from browsers; only ours (time, underscore,
// SID characters) are store keys.
func validName(s string) bool {
	return s != "" && len(s) <= 100 && safeID(s) == s
}
