package team

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oncall/pager/app/jsondoc"
)

// withUnknowns is the seed sample plus keys this version does not know, at
// the top level, inside current_config and inside a user, in odd places.
const withUnknowns = `{
"zz_first": {"note": "ops wrote this", "nested": [1, 2.50, {"b": null, "a": true}]},
"available_users": {
"users": {
"alice": {
"id": "alice",
"pronouns": "she/her",
"name": "Alice McAlister",
"phone": "+19195551001"
},
"bob": {
"id": "bob",
"name": "Bob Roberts",
"phone": "+19195551002"
}
}
},
"current_config": {
"from_phone": "+19195559876",
"last_modified_time": 1611602242,
"last_modified_user_id": "alice",
"escalate_after": 1e3,
"mail_settings": {
"from_email": "oncall@example.com",
"mail_password": "ktmyastgLYrB5bkpNdsx",
"mail_port": 25,
"mail_server": "smtp.example.com",
"mail_use_tls": true,
"mail_username": "oncall_pager_smtp",
"to_email": "sre@example.com"
},
"oncall_user": {
"id": "alice",
"name": "Alice McAlister",
"phone": "+9195551001",
"since": "ops"
},
"pager_phone": "+18002255288",
"session_lifetime": 300
},
"a_last": "x < y & \"z\" ü \u2028"
}`

func TestDocSetChangesOnlyTheTarget(t *testing.T) {
	doc, err := jsondoc.Parse([]byte(withUnknowns))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := doc.Marshal()
	bob := User{ID: "bob", Name: "Bob Roberts", Phone: "+19195551002"}
	now := time.Unix(1700000000, 0)
	if err := SetOnCall(doc, bob, "bob", now); err != nil {
		t.Fatal(err)
	}
	after, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := string(before)
	for _, r := range [][2]string{
		{`"last_modified_time": 1611602242`, `"last_modified_time": 1700000000`},
		{`"last_modified_user_id": "alice"`, `"last_modified_user_id": "bob"`},
		{`"id": "alice",
      "name": "Alice McAlister",
      "phone": "+9195551001",
      "since": "ops"`, `"id": "bob",
      "name": "Bob Roberts",
      "phone": "+19195551002",
      "since": "ops"`},
	} {
		if !strings.Contains(want, r[0]) {
			t.Fatalf("test is stale: %q not in\n%s", r[0], want)
		}
		want = strings.Replace(want, r[0], r[1], 1)
	}
	if string(after) != want {
		t.Errorf("after SetOnCall:\n%s\nwant:\n%s", after, want)
	}
	cfg, err := Parse(after)
	if err != nil {
		t.Fatal(err)
	}
	if oc, _ := cfg.OnCall(); oc.ID != "bob" || cfg.CurrentConfig.LastModifiedTime != now.Unix() {
		t.Errorf("parsed back: on call %+v at %d", oc, cfg.CurrentConfig.LastModifiedTime)
	}
	if len(Warnings(cfg)) != 0 {
		t.Errorf("SetOnCall left oncall_user disagreeing with available_users: %v", Warnings(cfg))
	}
}

func TestParseDuplicateKeys(t *testing.T) {
	data := bytes.Replace(DefaultConfig(), []byte(`"session_lifetime": 300`), []byte(`"session_lifetime": 300, "session_lifetime": 60`), 1)
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentConfig.SessionLifetime != 60 {
		t.Errorf("last duplicate should win, got %d", cfg.CurrentConfig.SessionLifetime)
	}
	if !slices.ContainsFunc(Warnings(cfg), func(p Problem) bool { return p.Path == "current_config.session_lifetime" }) {
		t.Errorf("no warning about the duplicate: %v", Warnings(cfg))
	}
}
