package suppress_test

import (
	"strings"
	"testing"

	"github.com/mvdsguard/mvdsguard/audit/static/suppress"
)

func TestWellFormedDirectives(t *testing.T) {
	d, ok, err := suppress.Parse("//mvdsaudit:ignore MA1001,MA1004 paired devices are best effort")
	if !ok || err != nil {
		t.Fatalf("Parse = %v, %v", ok, err)
	}
	if d.Kind != suppress.Line || !d.Matches("MA1001") || !d.Matches("MA1004") || d.Matches("MA1002") || d.Reason != "paired devices are best effort" {
		t.Errorf("Parse = %+v", d)
	}
	d, ok, err = suppress.Parse("//mvdsaudit:file-ignore MA1005 generated")
	if !ok || err != nil || d.Kind != suppress.File {
		t.Errorf("file-ignore: %+v %v %v", d, ok, err)
	}
}

func TestOrdinaryCommentsAreNotDirectives(t *testing.T) {
	for _, c := range []string{"// ignore this", "/* mvdsaudit:ignore MA1001 x */", "//lint:ignore SA1000 x", "//nolint"} {
		if _, ok, err := suppress.Parse(c); ok || err != nil {
			t.Errorf("Parse(%q) = %v, %v; want not a directive", c, ok, err)
		}
	}
}

func TestMalformedDirectivesSayWhatIsWrong(t *testing.T) {
	cases := map[string]string{
		"//mvdsaudit:ignore":                 "needs a rule id and a reason",
		"//mvdsaudit:ignore MA1001":          "has no reason",
		"//mvdsaudit:ignore MA1001   ":       "has no reason",
		"//mvdsaudit:ignore SA1000 because":  `unknown rule "SA1000"`,
		"//mvdsaudit:ignore MA1001, because": `unknown rule ""`,
		"//mvdsaudit:ignor MA1001 because":   `unknown directive "//mvdsaudit:ignor"`,
		"// mvdsaudit:ignore MA1001 because": "without a space",
	}
	for in, want := range cases {
		_, ok, err := suppress.Parse(in)
		if !ok || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, %v; want a directive error containing %q", in, ok, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("//mvdsaudit:ignore MA1001 reason")
	f.Add("//mvdsaudit:file-ignore MA1001,MA1002 reason here")
	f.Add("// mvdsaudit:ignore")
	f.Add("//mvdsaudit:")
	f.Fuzz(func(t *testing.T, s string) {
		d, ok, err := suppress.Parse(s)
		if err != nil && !ok {
			t.Fatalf("Parse(%q): error %v for a non-directive", s, err)
		}
		if ok && err == nil {
			if len(d.Rules) == 0 || d.Reason == "" {
				t.Fatalf("Parse(%q) accepted a directive without rules or reason: %+v", s, d)
			}
		}
	})
}
