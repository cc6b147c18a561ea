package outbound

import (
	"strings"
	"testing"
)

func TestSegmentsOf(t *testing.T) {
	cases := []struct {
		name string
		body string
		want int
		enc  Encoding
	}{
		{"empty", "", 1, GSM7},
		{"160 plain", strings.Repeat("a", 160), 1, GSM7},
		{"161 plain", strings.Repeat("a", 161), 2, GSM7},
		{"306 plain", strings.Repeat("a", 306), 2, GSM7},
		{"307 plain", strings.Repeat("a", 307), 3, GSM7},
		{"GSM accents stay 7-bit", strings.Repeat("é", 160), 1, GSM7},
		// Extension characters take two septets each...
		{"80 euros", strings.Repeat("€", 80), 1, GSM7},
		{"81 euros", strings.Repeat("€", 81), 2, GSM7},
		{"braces", strings.Repeat("{", 80) + "x", 2, GSM7},
		// ...and are never split between parts: 152 septets then an
		// escape pair that no longer fits in the first part's 153.
		{"escape at the seam", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 152), 3, GSM7},
		{"escape fits", strings.Repeat("a", 151) + "[" + strings.Repeat("a", 153), 2, GSM7},
		{"backquote is not GSM", "`", 1, UCS2},
		{"em dash forces UCS-2", "a — b", 1, UCS2},
		{"70 UCS-2", strings.Repeat("✓", 70), 1, UCS2},
		{"71 UCS-2", strings.Repeat("✓", 71), 2, UCS2},
		{"134 UCS-2", strings.Repeat("✓", 134), 2, UCS2},
		{"135 UCS-2", strings.Repeat("✓", 135), 3, UCS2},
		{"emoji are two units", strings.Repeat("😀", 35), 1, UCS2},
		{"36 emoji", strings.Repeat("😀", 36), 2, UCS2},
		// A surrogate pair is not split: 66 units then a pair does not fit
		// the first part's 67.
		{"pair at the seam", strings.Repeat("✓", 66) + "😀" + strings.Repeat("✓", 66), 3, UCS2},
		{"curly quotes", "“hi”", 1, UCS2},
	}
	for _, tc := range cases {
		n, enc := SegmentsOf(tc.body)
		if n != tc.want || enc != tc.enc {
			t.Errorf("%s: %d %v, want %d %v", tc.name, n, enc, tc.want, tc.enc)
		}
		if Segments(tc.body) != n {
			t.Errorf("%s: Segments disagrees with SegmentsOf", tc.name)
		}
	}
}

// The whole GSM 03.38 default alphabet and extension table count as GSM-7;
// their near neighbours do not.
func TestIsGSM7Alphabet(t *testing.T) {
	basic := "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	if len([]rune(basic)) != 127 { // 128 less the escape code itself
		t.Fatalf("test alphabet has %d characters", len([]rune(basic)))
	}
	if !IsGSM7(basic) || !IsGSM7("^{}\\[~]|€\f") {
		t.Error("GSM 03.38 alphabet not recognised")
	}
	for _, r := range "`—–“”‘’…¢ÀÈçêëíóú\t\x00" {
		if IsGSM7(string(r)) {
			t.Errorf("%q counted as GSM-7", r)
		}
	}
	if n, _ := SegmentsOf(basic); n != 1 {
		t.Errorf("alphabet = %d segments", n)
	}
}

func TestTrimSMSStaysGSM7(t *testing.T) {
	long := strings.Repeat("a", MaxSMSRunes+10)
	got := TrimSMS(long)
	if len([]rune(got)) != MaxSMSRunes || !strings.HasSuffix(got, "...") || !IsGSM7(got) {
		t.Errorf("TrimSMS = %d runes, suffix %q", len([]rune(got)), got[len(got)-5:])
	}
	if TrimSMS("short") != "short" {
		t.Error("short text changed")
	}
}
