package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
)

// The queue finds a step's handler by its exact name, and notification
// steps are named after their recipients ("alice/sms"), so there is no
// fixed list to register up front. Outbound registers the one delivery
// handler under each name it meets: when it queues a notification, and when
// Adopt finds one queued by an earlier process or another replica.

type regKey struct {
	q    *jobs.Queue
	step string
}

// handleSteps registers the delivery handler for the step names not yet
// known to q.
func (o *Outbound) handleSteps(q *jobs.Queue, names []string) {
	o.regMu.Lock()
	defer o.regMu.Unlock()
	for _, name := range names {
		k := regKey{q, name}
		if o.reg[k] {
			continue
		}
		o.reg[k] = true
		q.Handle(KindNotification, name, o.deliverStep(q))
	}
}

// Adopt registers handlers for the notification jobs in st's active/ folder
// under prefix (the queue's Options.Prefix, "jobs/" by default): those
// queued before a restart, or by another replica that may have died. A job
// is read once: its step names never change. It returns how many jobs it
// read.
func (o *Outbound) Adopt(ctx context.Context, q *jobs.Queue, st store.Store, prefix string) (int, error) {
	if prefix == "" {
		prefix = "jobs/"
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	infos, err := st.List(ctx, prefix+"active/"+JobPrefix)
	if err != nil {
		return 0, fmt.Errorf("notify: adopt: list: %w", err)
	}
	listed := make(map[string]bool, len(infos))
	read := 0
	for _, in := range infos {
		listed[in.Key] = true
		o.regMu.Lock()
		known := o.adopted[in.Key]
		o.regMu.Unlock()
		if known {
			continue
		}
		obj, err := st.Get(ctx, in.Key)
		if err != nil {
			continue // finished meanwhile, or an outage: the next sweep
		}
		var j struct {
			Kind  jobs.Kind `json:"kind"`
			Steps []struct {
				Name string `json:"name"`
			} `json:"steps"`
		}
		if json.Unmarshal(obj.Data, &j) != nil || j.Kind != KindNotification {
			continue // not ours; the queue moves unreadable objects aside
		}
		names := make([]string, len(j.Steps))
		for i, s := range j.Steps {
			names[i] = s.Name
		}
		o.handleSteps(q, names)
		read++
		o.regMu.Lock()
		o.adopted[in.Key] = true
		o.regMu.Unlock()
	}
	o.regMu.Lock()
	for k := range o.adopted {
		if !listed[k] {
			delete(o.adopted, k)
		}
	}
	o.regMu.Unlock()
	return read, nil
}

// AdoptEvery runs Adopt every interval until ctx ends (call Adopt once
// first), so a replica takes over the notifications of one that died once
// their lease expires.
func (o *Outbound) AdoptEvery(ctx context.Context, q *jobs.Queue, st store.Store, prefix string, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := o.Adopt(ctx, q, st, prefix); err != nil && ctx.Err() == nil {
			o.log.Warn("notify: could not look for queued notifications; retrying", "err", err, "in", interval)
		} else if n > 0 {
			o.log.Info("notify: picked up queued notifications", "jobs", n)
		}
	}
}
