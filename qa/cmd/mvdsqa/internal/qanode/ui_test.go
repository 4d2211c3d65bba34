package qanode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/internal/wait"
	"github.com/mvdsguard/mvdsguard/retry"
)

// browserRequired makes a missing browser a failure instead of a skip: CI
// installs Debian's chromium and sets it (.ci/run).
const browserRequired = "MVDSQA_BROWSER_REQUIRED"

// screenshotDir, when set, receives a PNG of each state the test reaches
// (docs/gui.md shows them).
const screenshotDir = "MVDSQA_SCREENSHOTS"

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(browserRequired) != "" {
		t.Fatalf("no chromium on PATH and %s is set: install Debian's chromium (apt-get install chromium)", browserRequired)
	}
	t.Skipf("no chromium on PATH: the reference GUI's browser test needs Debian's chromium (set %s to make this a failure)", browserRequired)
	return ""
}

// browser starts a headless chromium with a fresh profile and no network
// of its own, as the test's machine allows, and returns a context for a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1300, 760),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return alloc
}

// tab is one page of the reference GUI.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string
}

// openTab opens url in a browser of its own (its own profile, so its own
// localStorage).
func openTab(t *testing.T, name, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t))
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, name: name}
	// The first action runs on the tab's own context: it starts the browser
	// and the tab, which live as long as that context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: start chromium: %v", name, err)
	}
	tb.do("open "+url, chromedp.Navigate(url))
	tb.waitFor("the page ready", `document.body.dataset.ready === "true"`)
	return tb
}

// do runs actions, bounded in time, failing the test with what was done.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// eval returns the value of a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, within)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds, and fails the test
// with the page's text once within has passed.
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(within)
	for !eval[bool](tb, "!!("+cond+")") {
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s: timed out after %v waiting for %s (%s)\npage: %s", tb.name, within, what, cond,
				eval[string](tb, "document.body.innerText"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// click clicks the element, as the user's click would: its handler runs.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.waitFor(sel+" present", fmt.Sprintf("document.querySelector(%q)", sel))
	eval[bool](tb, fmt.Sprintf("(document.querySelector(%q).click(), true)", sel))
}

func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf("(document.querySelector(%q).value = %q, true)", sel, value))
}

// markOf waits for the message with text to show mark and returns its id.
func (tb *tab) markOf(text, mark string) string {
	tb.t.Helper()
	sel := fmt.Sprintf(`.msg[data-text=%q] .mark[data-mark=%q]`, text, mark)
	tb.waitFor(fmt.Sprintf("%q shows %q", text, mark), fmt.Sprintf("document.querySelector(%q)", sel))
	return eval[string](tb, fmt.Sprintf(`document.querySelector(%q).closest(".msg").dataset.id`, sel))
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	dir := os.Getenv(screenshotDir)
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, within)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// send fills the page's send form and submits it.
func (tb *tab) send(flow, to, text string) {
	tb.t.Helper()
	tb.setValue(`#send select[name=flow]`, flow)
	tb.setValue(`#send input[name=to]`, to)
	tb.setValue(`#send input[name=text]`, text)
	tb.click(`#send button[type=submit]`)
}

// streamSeqs returns the seq of every mvds.message.* line the page's stream
// shows, oldest first.
func (tb *tab) streamSeqs() []int {
	return eval[[]int](tb, `[...document.querySelectorAll('#stream div[data-type^="mvds."]')].map(d => Number(d.dataset.seq)).reverse()`)
}

// TestReferenceGUIInABrowser drives the reference GUI of two guarded nodes
// (and a third for a private group) in a real chromium: a contact request
// sent offline is pending and then delivered, a chat message to a
// partitioned peer fails and is retried, a group message shows each
// member's receipt, a reload mid-stream loses and doubles nothing, and API
// errors and unknown signal types are shown, not swallowed.
func TestReferenceGUIInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts go-waku nodes and a browser")
	}
	chromium(t)
	ctx := context.Background()
	policies := []PolicyOverride{
		{Flow: mvdsguard.ContactRequest, Kinds: []retry.Kind{retry.Control}, Set: map[string]string{"stall": "2s", "initial": "500ms", "max": "1s"}},
		{Flow: mvdsguard.OneToOne, Kinds: []retry.Kind{retry.Content}, Set: map[string]string{"attempts": "3", "initial": "400ms", "max": "800ms"}},
	}
	alice, ac := startNode(t, Config{Name: "alice", Policies: policies})
	bob, bc := startNode(t, Config{Name: "bob"})
	carol, _ := startNode(t, Config{Name: "carol"})
	link(t, ac, bob)
	link(t, ac, carol)
	if err := bc.Connect(ctx, carol.Transport().Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	wait.For(t, within, "alice online", func() bool { h, _ := ac.Health(ctx); return h.Online })
	bobID, carolID := bob.Info().ID, carol.Info().ID

	a := openTab(t, "alice", alice.APIAddr()+"/ui")
	b := openTab(t, "bob", bob.APIAddr()+"/ui")

	// 1. Offline, a contact request is pending: sending, then stalled.
	a.click(`#toggle`)
	a.waitFor("offline", `document.querySelector("#netstate.offline")`)
	a.send("contact_request", bobID, "hi bob, add me")
	a.markOf("hi bob, add me", "sending")
	crID := a.markOf("hi bob, add me", "pending")
	a.waitFor("retry now and cancel on the stalled request", fmt.Sprintf(
		`document.querySelector('.msg[data-id=%q] button[data-action="retry"]') && document.querySelector('.msg[data-id=%q] button[data-action="discard"]')`, crID, crID))
	a.screenshot("gui-1-request-pending")
	if m, err := ac.Message(ctx, crID); err != nil || m.Attempts != 0 {
		t.Fatalf("request while offline: %+v, %v; want no attempt", m, err)
	}

	// 2. Online again: delivered, and bob's page received it.
	a.click(`#toggle`)
	a.waitFor("online", `document.querySelector("#netstate.online")`)
	a.markOf("hi bob, add me", "delivered")
	b.waitFor("bob received the request", fmt.Sprintf(`document.querySelector('#received div[data-id=%q]')`, crID))
	a.screenshot("gui-2-request-delivered")

	// 3. A chat peer partitioned: the message fails, Retry after healing
	// delivers it.
	if err := ac.SetFaults(ctx, Faults{Partition: []string{bobID}}); err != nil {
		t.Fatal(err)
	}
	a.send("one_to_one", bobID, "are you there?")
	msgID := a.markOf("are you there?", "failed")
	a.waitFor("Sending failed shows Retry and Discard", fmt.Sprintf(
		`document.querySelector('.msg[data-id=%q] button[data-action="retry"]') && document.querySelector('.msg[data-id=%q] button[data-action="discard"]')`, msgID, msgID))
	legacy := eval[[]string](a, fmt.Sprintf(`[...document.querySelectorAll('#stream div.legacy')].filter(d => d.title.includes(%q)).map(d => d.dataset.type)`, msgID))
	if strings.Join(legacy, " ") != "envelope.expired envelope.sent" {
		t.Fatalf("status-go's signals for the failed message, newest first: %v; want envelope.expired envelope.sent", legacy)
	}
	a.screenshot("gui-3-sending-failed")
	a.click(fmt.Sprintf(`.msg[data-id=%q] button[data-action="retry"]`, msgID))
	if err := ac.SetFaults(ctx, Faults{}); err != nil {
		t.Fatal(err)
	}
	a.markOf("are you there?", "delivered")
	b.waitFor("bob received the retried message", fmt.Sprintf(`document.querySelector('#received div[data-id=%q]')`, msgID))

	// 4. A private group: a receipt per member.
	a.setValue(`#group input[name=name]`, "weekend")
	a.setValue(`#group input[name=members]`, bobID+", "+carolID)
	a.click(`#group button[type=submit]`)
	a.waitFor("the group fills the send form", `document.querySelector('#send input[name=to]').value === "weekend"`)
	a.send("private_group", "weekend", "dinner at 8?")
	gID := a.markOf("dinner at 8?", "delivered")
	receipts := eval[[]string](a, fmt.Sprintf(`[...document.querySelectorAll('.msg[data-id=%q] .receipts span')].map(s => s.className)`, gID))
	if strings.Join(receipts, " ") != "delivered delivered" {
		t.Fatalf("group receipts %v; want one delivered per member", receipts)
	}
	a.screenshot("gui-4-group-receipts")

	// 5. A reload while events are still coming: nothing lost or doubled.
	for i := 0; i < 5; i++ {
		if _, err := ac.Send(ctx, SendRequest{ID: fmt.Sprintf("0xbeef%02d", i), To: bobID, Flow: "one_to_one", ChatID: bobID, Payload: "burst"}); err != nil {
			t.Fatal(err)
		}
	}
	a.do("reload mid-stream", chromedp.Reload())
	a.waitFor("the page ready", `document.body.dataset.ready === "true"`)
	wait.For(t, within, "the burst delivered", func() bool {
		return statusOf(t, ac, "0xbeef04") == "delivered" && statusOf(t, ac, "0xbeef00") == "delivered"
	})
	evs, err := ac.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, 0, len(evs))
	for _, e := range evs {
		want = append(want, int(e.Seq))
	}
	deadline := time.Now().Add(within)
	for got := a.streamSeqs(); fmt.Sprint(got) != fmt.Sprint(want); got = a.streamSeqs() {
		if time.Now().After(deadline) {
			t.Fatalf("after a reload the page's stream has events %v; the node's log %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// 6. Errors are messages, never a blank page.
	a.send("one_to_one", "0x1234", "to nobody")
	a.waitFor("a 4xx is shown", `document.querySelector('#errors .error')`)
	errText := eval[string](a, `document.querySelector('#errors .error').textContent`)
	if !strings.Contains(errText, "POST /v1/messages: 400") {
		t.Fatalf("error shown: %q; want the 400 and its reason", errText)
	}
	// Unknown signal types (a newer node) are ignored and listed.
	eval[string](b, `(() => { const k = Object.keys(localStorage).find(k => k.startsWith("mvdsqa-ui:")); const s = JSON.parse(localStorage.getItem(k)); s.log.push([0, "mvds.message.teleported", "{}"]); localStorage.setItem(k, JSON.stringify(s)); return k })()`)
	b.do("reload bob", chromedp.Reload())
	b.waitFor("the page ready", `document.body.dataset.ready === "true"`)
	unknown := eval[string](b, `document.querySelector('#unknown').textContent`)
	if !strings.Contains(unknown, "mvds.message.teleported (1)") {
		t.Fatalf("unknown types listed as %q", unknown)
	}
	// The node goes down: the page says so and stays.
	bob.Close()
	b.waitFor("node down is shown", `[...document.querySelectorAll('#errors .error')].some(e => e.textContent.includes("cannot reach the node"))`)
	body := eval[string](b, `document.querySelector('#chats').parentElement.innerText`)
	if !strings.Contains(body, "Send") {
		t.Fatalf("page after the node went down: %q", body)
	}
	b.screenshot("gui-5-node-down")
}
