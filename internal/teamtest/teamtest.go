package teamtest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The default team's numbers.
const (
	Alice      = "+15555550101"
	Bob        = "+15555550102"
	Carol      = "+447700900123" // abroad: texts carry a link, not media
	Control    = "+15555550100"  // from_phone: the number team members text
	PagerPhone = "+15555550199"  // pager_phone: the number customers call
)

// Config is a team config as generic JSON, ready to patch and encode.
type Config map[string]any

// Patch changes a Config in place.
type Patch func(Config)

// Default is a team of three: alice (on call), bob, and carol abroad; mail
// goes to an SMTP server on 127.0.0.1:25 without TLS. patches are applied
// in order. Each call returns a fresh copy.
func Default(patches ...Patch) Config {
	c := Config{
		"available_users": map[string]any{"users": map[string]any{
			"alice": User("alice", "Alice McAlister", Alice),
			"bob":   User("bob", "Bob Roberts", Bob),
			"carol": User("carol", "Carol Jones", Carol),
		}},
		"current_config": map[string]any{
			"from_phone":            Control,
			"pager_phone":           PagerPhone,
			"last_modified_time":    1611602242,
			"last_modified_user_id": "alice",
			"session_lifetime":      300,
			"mail_settings": map[string]any{
				"from_email": "oncall@example.com", "to_email": "sre@example.com",
				"mail_server": "127.0.0.1", "mail_port": 25, "mail_use_tls": false,
				"mail_username": "", "mail_password": "",
			},
		},
	}
	OnCall("alice")(c)
	return c.With(patches...)
}

// With returns a copy of c with patches applied; c is unchanged.
func (c Config) With(patches ...Patch) Config {
	out := clone(map[string]any(c)).(map[string]any)
	for _, p := range patches {
		p(out)
	}
	return out
}

// JSON encodes c as the pager reads it from the store.
func (c Config) JSON() []byte {
	b, err := json.MarshalIndent(map[string]any(c), "", "  ")
	if err != nil {
		panic(fmt.Sprintf("teamtest: config does not encode: %v", err))
	}
	return append(b, '\n')
}

// User is an available_users entry.
func User(id, name, phone string) map[string]any {
	return map[string]any{"id": id, "name": name, "phone": phone}
}

// WithUsers adds users (available_users entries, each with its "id"),
// replacing any with the same id.
func WithUsers(users ...map[string]any) Patch {
	return func(c Config) {
		for _, u := range users {
			Set("available_users.users."+fmt.Sprint(u["id"]), clone(u))(c)
		}
	}
}

// OnCall puts user id on call: current_config.oncall_user becomes a copy
// of its available_users entry's id, name and phone.
func OnCall(id string) Patch {
	return func(c Config) {
		u, ok := lookup(c, "available_users.users."+id).(map[string]any)
		if !ok {
			panic(fmt.Sprintf("teamtest: OnCall(%q): no such user", id))
		}
		Set("current_config.oncall_user", map[string]any{"id": u["id"], "name": u["name"], "phone": u["phone"]})(c)
	}
}

// WithEscalation sets the escalation policy to the JSON object policy.
func WithEscalation(policy string) Patch {
	return Set("escalation", parse(policy))
}

// WithAPIKey adds an api_keys entry name holding the key's SHA-256 (hex,
// as team.HashAPIKey computes it).
func WithAPIKey(name, sha256 string, canRead bool) Patch {
	return Set("api_keys."+name, map[string]any{"sha256": sha256, "can_read": canRead})
}

// Set sets the value at a dotted path ("current_config.greeting"),
// creating objects on the way. v may be any JSON-encodable value.
func Set(path string, v any) Patch {
	return func(c Config) {
		keys := strings.Split(path, ".")
		m := map[string]any(c)
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = v
	}
}

// Delete removes the value at a dotted path, if there.
func Delete(path string) Patch {
	return func(c Config) {
		keys := strings.Split(path, ".")
		if m, ok := lookup(c, strings.Join(keys[:len(keys)-1], ".")).(map[string]any); ok {
			delete(m, keys[len(keys)-1])
		}
	}
}

// Merge merges the JSON object fragment into the config: objects key by
// key, at any depth; any other value replaces what was there.
func Merge(fragment string) Patch {
	return func(c Config) {
		merge(c, parse(fragment).(map[string]any))
	}
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				merge(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

// lookup is the value at a dotted path ("" is the whole config), nil when
// absent.
func lookup(c Config, path string) any {
	var v any = map[string]any(c)
	if path == "" {
		return v
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func parse(js string) any {
	var v any
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		panic(fmt.Sprintf("teamtest: %v in %s", err, js))
	}
	return v
}

// clone copies JSON-shaped values deeply, so patches never share state.
func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = clone(e)
		}
		return out
	case Config:
		return clone(map[string]any(v))
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = clone(e)
		}
		return out
	}
	return v
}
