package storetest

import (
	"maps"
	"sync"
)

// gate is the outage switch shared by Fault (in front of HTTP) and
// FaultyStore (in front of any store.Store).
type gate struct {
	mu       sync.Mutex
	down     bool
	readOnly bool
	failNext int
	counts   map[string]int
}

// admit counts one request under name and reports whether it should fail,
// and if so whether because of Down (rather than FailNext).
func (g *gate) admit(name string) (fail, down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.counts == nil {
		g.counts = make(map[string]int)
	}
	g.counts[name]++
	if g.down {
		return true, true
	}
	if g.failNext > 0 {
		g.failNext--
		return true, false
	}
	return false, false
}

func (g *gate) setDown(down bool) {
	g.mu.Lock()
	g.down = down
	g.mu.Unlock()
}

func (g *gate) setReadOnly(ro bool) {
	g.mu.Lock()
	g.readOnly = ro
	g.mu.Unlock()
}

func (g *gate) isReadOnly() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.readOnly
}

func (g *gate) setFailNext(n int) {
	g.mu.Lock()
	g.failNext = max(n, 0)
	g.mu.Unlock()
}

func (g *gate) snapshot() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := maps.Clone(g.counts)
	if out == nil {
		out = map[string]int{}
	}
	return out
}

func (g *gate) reset() {
	g.mu.Lock()
	g.counts = nil
	g.mu.Unlock()
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
