package notification

import (
	"errors"
	"github.com/oncall/pager/app/team"
	"reflect"
	"testing"
)

func sms(addr string) Route { return Route{Medium: team.MediumSMS, Address: addr} }

func checkRecipients(t *testing.T, what string, got, want []Recipient) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestResolveContact(t *testing.T) {
	cfg := mustParse(t, []byte(alertingConfig))
	cases := []struct {
		id   string
		want Recipient
	}{
		// Her own media in Media order (voice is switched off), then the
		// channels she is on.
		{"alice", Recipient{UserID: "alice", Name: "Alice McAlister", Routes: []Route{
			sms("+19195551001"),
			{Medium: team.MediumEmail, Address: "alice@example.com"},
			{Medium: team.MediumPushover, Address: "ualiceuserkey"},
			{Medium: team.MediumEmail, Address: "ops@example.com", Channel: "email_ops"},
		}}},
		// Only a phone: SMS, nothing else.
		{"bob", Recipient{UserID: "bob", Name: "Bob Roberts", Routes: []Route{sms("+19195551002")}}},
		// SMS switched off: the webhook and the team mailbox remain.
		{"dave", Recipient{UserID: "dave", Name: "Dave Hooks", Routes: []Route{
			{Medium: team.MediumWebhook, Address: "https://hooks.example.com/dave"},
			{Medium: team.MediumEmail, Address: "ops@example.com", Channel: "email_ops"},
		}}},
		// Her only medium is switched off: known, but not reachable.
		{"erin", Recipient{UserID: "erin", Name: "Erin Away", Skipped: SkipNoChannel}},
	}
	for _, c := range cases {
		got, err := ResolveContact(cfg, c.id)
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		checkRecipients(t, c.id, []Recipient{got}, []Recipient{c.want})
	}
	for _, id := range []string{"carol", "mallory", ""} {
		if rc, err := ResolveContact(cfg, id); !errors.Is(err, ErrUnknown) {
			t.Errorf("ResolveContact(%q) = %+v, %v; want ErrUnknown (404)", id, rc, err)
		}
	}
}

func TestResolveContactChannelSwitchedOff(t *testing.T) {
	cfg := mustParse(t, edit(t, []byte(alertingConfig), map[string]any{
		"available_users.users.alice.channels.email.enabled":    false,
		"available_users.users.alice.channels.pushover.enabled": false,
		"notification_channels.email_ops.enabled":               false,
	}))
	got, err := ResolveContact(cfg, "alice")
	if err != nil {
		t.Fatal(err)
	}
	checkRecipients(t, "alice", []Recipient{got}, []Recipient{{UserID: "alice", Name: "Alice McAlister", Routes: []Route{sms("+19195551001")}}})
}

func TestResolveGroup(t *testing.T) {
	cfg := mustParse(t, []byte(alertingConfig))
	g, got, err := ResolveGroup(cfg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "Ops" {
		t.Errorf("name %q", g.Name)
	}
	alice, _ := ResolveContact(cfg, "alice")
	checkRecipients(t, "ops", got, []Recipient{
		alice,
		{UserID: "bob", Name: "Bob Roberts", Routes: []Route{sms("+19195551002")}},
		{UserID: "carol", Name: "Carol Off", Skipped: SkipUserDisabled},
	})

	// The team mailbox both are on gets one message, through alice.
	g, got, err = ResolveGroup(cfg, "both")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "both" {
		t.Errorf("a group without a name is called by its slug, got %q", g.Name)
	}
	checkRecipients(t, "both", got, []Recipient{
		alice,
		{UserID: "dave", Name: "Dave Hooks", Routes: []Route{{Medium: team.MediumWebhook, Address: "https://hooks.example.com/dave"}}},
	})

	for _, slug := range []string{"off", "nope", ""} {
		if _, rs, err := ResolveGroup(cfg, slug); !errors.Is(err, ErrUnknown) {
			t.Errorf("ResolveGroup(%q) = %+v, %v; want ErrUnknown", slug, rs, err)
		}
	}
}

func TestResolveEventOnCallAndDedupe(t *testing.T) {
	cfg := mustParse(t, []byte(alertingConfig))
	ev, got, err := ResolveEvent(cfg, "disk_full")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != "disk_full" || ev.Message != "Disk {{ host }} at {{ pct }}%" {
		t.Errorf("event %+v", ev)
	}
	alice, _ := ResolveContact(cfg, "alice")
	// bob is a contact, in ops and on call: once. The disabled group "off"
	// (dave) is left out; disabled carol is named as skipped. The event
	// lists no channels, so the default channel gets it once.
	checkRecipients(t, "disk_full", got, []Recipient{
		{UserID: "bob", Name: "Bob Roberts", Routes: []Route{sms("+19195551002")}},
		alice,
		{UserID: "carol", Name: "Carol Off", Skipped: SkipUserDisabled},
		{UserID: "channel:mm_ops", Name: "mm_ops", Routes: []Route{{Medium: team.MediumMattermost, Address: "ops", Channel: "mm_ops"}}},
	})

	// On call is whoever is on call now.
	cfg = mustParse(t, edit(t, []byte(alertingConfig), map[string]any{
		"current_config.oncall_user": team.OncallUser{ID: "dave", Name: "Dave Hooks", Phone: "+19195551004"},
		"events.disk_full.contacts":  []string{},
		"events.disk_full.groups":    []string{},
	}))
	dave, _ := ResolveContact(cfg, "dave")
	_, got, _ = ResolveEvent(cfg, "disk_full")
	checkRecipients(t, "dave on call", got, []Recipient{dave, {UserID: "channel:mm_ops", Name: "mm_ops", Routes: []Route{{Medium: team.MediumMattermost, Address: "ops", Channel: "mm_ops"}}}})

	// An on-call user missing from available_users is reached by the
	// oncall_user copy's phone.
	cfg = mustParse(t, edit(t, seedConfig(t), map[string]any{
		"current_config.oncall_user": team.OncallUser{ID: "zed", Name: "Zed Temp", Phone: "+447700900123"},
		"events.x":                   team.Event{Message: "m", OnCall: true},
	}))
	_, got, _ = ResolveEvent(cfg, "x")
	checkRecipients(t, "zed", got, []Recipient{{UserID: "zed", Name: "Zed Temp", Routes: []Route{sms("+447700900123")}}})
}

func TestResolveEventChannels(t *testing.T) {
	cfg := mustParse(t, []byte(alertingConfig))
	ev, got, err := ResolveEvent(cfg, "page")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != "Page" || ev.FromPhone != "+19195559998" {
		t.Errorf("event %+v", ev)
	}
	checkRecipients(t, "page", got, []Recipient{
		// Voice is off for alice; e-mail to her and to the mailbox she is
		// on; SMS from the backup number.
		{UserID: "alice", Name: "Alice McAlister", Routes: []Route{
			{Medium: team.MediumEmail, Address: "alice@example.com"},
			{Medium: team.MediumEmail, Address: "ops@example.com", Channel: "email_ops"},
			{Medium: team.MediumSMS, Address: "+19195551001", Channel: "sms_backup"},
		}},
		// Bob has no settings: a call and an SMS to his phone; no e-mail
		// address, so no e-mail.
		{UserID: "bob", Name: "Bob Roberts", Routes: []Route{
			{Medium: team.MediumVoice, Address: "+19195551002"},
			{Medium: team.MediumSMS, Address: "+19195551002", Channel: "sms_backup"},
		}},
		// Erin switched SMS off, which the backup number respects; calls
		// she has not switched off.
		{UserID: "erin", Name: "Erin Away", Routes: []Route{{Medium: team.MediumVoice, Address: "+19195551005"}}},
		// Named in the event: once. No defaults: the event chose.
		{UserID: "channel:mm_ops", Name: "mm_ops", Routes: []Route{{Medium: team.MediumMattermost, Address: "ops", Channel: "mm_ops"}}},
	})

	_, got, err = ResolveEvent(cfg, "teamonly")
	if err != nil {
		t.Fatal(err)
	}
	checkRecipients(t, "teamonly", got, []Recipient{
		{UserID: "channel:mm_ops", Name: "mm_ops", Routes: []Route{{Medium: team.MediumMattermost, Address: "ops", Channel: "mm_ops"}}},
		{UserID: "channel:slack_off", Name: "slack_off", Skipped: SkipChannelDisabled},
	})

	for _, slug := range []string{"quiet", "nope"} {
		if _, rs, err := ResolveEvent(cfg, slug); !errors.Is(err, ErrUnknown) {
			t.Errorf("ResolveEvent(%q) = %+v, %v; want ErrUnknown", slug, rs, err)
		}
	}
}

func TestRoutes(t *testing.T) {
	cfg := mustParse(t, []byte(alertingConfig))
	carol, _ := cfg.UserByID("carol")
	if r := Routes(cfg, carol, nil); r != nil {
		t.Errorf("a disabled user has routes: %v", r)
	}
	bob, _ := cfg.UserByID("bob")
	if r := Routes(cfg, bob, []string{"email", "webhook"}); r != nil {
		t.Errorf("bob has neither email nor webhook, got %v", r)
	}
	// An empty channels setting means none of the user's own media.
	bob.Channels = map[team.Medium]team.UserChannel{}
	if r := Routes(cfg, bob, nil); r != nil {
		t.Errorf("channels {} still routes: %v", r)
	}
	// Restricting to a channel name keeps that channel's routes only.
	alice, _ := cfg.UserByID("alice")
	want := []Route{{Medium: team.MediumEmail, Address: "ops@example.com", Channel: "email_ops"}}
	if r := Routes(cfg, alice, []string{"email_ops"}); !reflect.DeepEqual(r, want) {
		t.Errorf("Routes(alice, email_ops) = %v", r)
	}
	// A second address of the same kind for the same destination is sent once.
	alice.Channels = map[team.Medium]team.UserChannel{team.MediumEmail: {Address: "ops@example.com"}}
	if r := Routes(cfg, alice, nil); len(r) != 1 || r[0].Channel != "" {
		t.Errorf("duplicate destination: %v", r)
	}
}

func TestChannelRoutesKeepHookSecrets(t *testing.T) {
	cfg := mustParse(t, edit(t, []byte(alertingConfig), map[string]any{
		"notification_channels.slack_off.enabled": true,
		"notification_channels.mm_ops.channel":    deleteKey,
		"notification_channels.call_ops":          map[string]any{"type": "voice", "from_phone": "+19195559990", "to": []string{"+19195550003", "+19195550004"}},
		"events.teamonly.channels":                []string{"mm_ops", "slack_off", "hook", "signal_ops", "pushover_app", "call_ops"},
	}))
	_, got, err := ResolveEvent(cfg, "teamonly")
	if err != nil {
		t.Fatal(err)
	}
	var routes []Route
	for _, rc := range got {
		routes = append(routes, rc.Routes...)
	}
	want := []Route{
		{Medium: team.MediumMattermost, Address: "chat.example.com", Channel: "mm_ops"},
		{Medium: team.MediumSlack, Address: "hooks.slack.com", Channel: "slack_off"},
		{Medium: team.MediumWebhook, Address: "https://example.com/alerts?k=q-Secret-6", Channel: "hook"},
		{Medium: team.MediumSignal, Address: "+19195550002", Channel: "signal_ops"},
		{Medium: team.MediumPushover, Address: "uteamgroupkey", Channel: "pushover_app"},
		// A voice channel with fixed numbers calls them, not the recipients.
		{Medium: team.MediumVoice, Address: "+19195550003", Channel: "call_ops"},
		{Medium: team.MediumVoice, Address: "+19195550004", Channel: "call_ops"},
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("routes\n got %+v\nwant %+v", routes, want)
	}
}

func BenchmarkResolveEvent(b *testing.B) {
	cfg, err := team.Parse([]byte(alertingConfig))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := ResolveEvent(cfg, "disk_full"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDefaultConfigExample(t *testing.T) {
	cfg := mustParse(t, team.DefaultConfig())
	g, members, err := ResolveGroup(cfg, "ops")
	if err != nil || g.Name == "" || len(members) != 2 || members[0].UserID != "alice" || members[1].UserID != "bob" {
		t.Errorf("ops = %+v %+v %v", g, members, err)
	}
	ev, rcpts, err := ResolveEvent(cfg, "disk_full")
	if err != nil || ev.Message != "Disk {{ host }} at {{ pct }}%" || !ev.OnCall || len(rcpts) != 2 {
		t.Errorf("disk_full = %+v %+v %v", ev, rcpts, err)
	}
}
