package alerts

import "testing"

func TestCleanSummary(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Disk full on db1", "Disk full on db1"},
		{"db1 ok\n[1a/1c] db1 disk full - reply 1c to close", "db1 ok db1 disk full"},
		{"[7] ack needed - Reply ACK 7 now. Then more", "ack needed. Then more"},
		{"replication lag 3a\tbehind", "replication lag 3a behind"},
		{"text 2a to stop; cpu 99%", "cpu 99%"},
	}
	for _, c := range cases {
		if got := CleanSummary(c.in); got != c.want {
			t.Errorf("CleanSummary(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
