package qanode

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/internal/wait"
)

func raw(t *testing.T, method, url, ct, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBadRequestsGetAClientErrorWithTheReason: every malformed or
// impossible request is answered 4xx with a JSON body that names the field
// and says what is wrong — never a 500, never a panic.
func TestBadRequestsGetAClientErrorWithTheReason(t *testing.T) {
	ctx := context.Background()
	alice, ac := startNode(t, Config{Name: "alice"})
	stock, _ := startNode(t, Config{Name: "stock", Stock: true})
	self := alice.Info().ID
	other := stock.Info().ID
	if _, err := ac.Send(ctx, SendRequest{ID: "taken", To: other, Flow: "one_to_one"}); err != nil {
		t.Fatal(err)
	}
	base := alice.APIAddr()
	big := strings.Repeat("x", MaxPayload+1)
	for _, c := range []struct {
		name, method, path, ct, body string
		status                       int
		reason                       string
	}{
		{"invalid JSON", "POST", "/v1/messages", "application/json", `{"id": "m",`, 400, "body"},
		{"not an object", "POST", "/v1/messages", "", `[1,2]`, 400, "body"},
		{"unknown field", "POST", "/v1/messages", "", `{"id":"m","to":"` + other + `","flow":"one_to_one","colour":"red"}`, 400, `unknown field "colour"`},
		{"wrong type", "POST", "/v1/messages", "", `{"id":7}`, 400, `field "id"`},
		{"trailing data", "POST", "/v1/messages", "", `{"id":"m"} {}`, 400, "after the JSON object"},
		{"empty body", "POST", "/v1/messages", "", ``, 400, "empty"},
		{"missing id", "POST", "/v1/messages", "", `{"to":"` + other + `","flow":"one_to_one"}`, 400, "id: missing"},
		{"unknown flow", "POST", "/v1/messages", "", `{"id":"m","to":"` + other + `","flow":"gossip"}`, 400, "flow"},
		{"unknown kind", "POST", "/v1/messages", "", `{"id":"m","to":"` + other + `","flow":"one_to_one","kind":"loud"}`, 400, "kind"},
		{"no recipient", "POST", "/v1/messages", "", `{"id":"m","flow":"one_to_one"}`, 400, "to or group"},
		{"both recipients", "POST", "/v1/messages", "", `{"id":"m","to":"` + other + `","group":"g","flow":"one_to_one"}`, 400, "not both"},
		{"bad peer id", "POST", "/v1/messages", "", `{"id":"m","to":"0x1234","flow":"one_to_one"}`, 400, "to: peer id"},
		{"to itself", "POST", "/v1/messages", "", `{"id":"m","to":"` + self + `","flow":"one_to_one"}`, 400, "itself"},
		{"unknown group", "POST", "/v1/messages", "", `{"id":"m","group":"nope","flow":"one_to_one"}`, 404, "unknown"},
		{"duplicate id", "POST", "/v1/messages", "", `{"id":"taken","to":"` + other + `","flow":"one_to_one"}`, 409, "already sent"},
		{"payload too large", "POST", "/v1/messages", "", `{"id":"m","to":"` + other + `","flow":"one_to_one","payload":"` + big + `"}`, 413, "limit"},
		{"body too large", "POST", "/v1/messages", "", `{"id":"m","payload":"` + big + big + `"}`, 413, "larger than"},
		{"not JSON", "POST", "/v1/messages", "text/plain", `id=m`, 415, "Content-Type"},
		{"unknown message", "GET", "/v1/messages/nope", "", ``, 404, "unknown"},
		{"retry unknown", "POST", "/v1/messages/nope/retry", "", ``, 404, "unknown"},
		{"bad status filter", "GET", "/v1/messages?status=lost", "", ``, 400, "status"},
		{"bad cursor", "GET", "/v1/received?after=-1", "", ``, 400, "after"},
		{"bad limit", "GET", "/v1/events?limit=0", "", ``, 400, "limit"},
		{"group without members", "POST", "/v1/groups", "", `{"name":"g","members":[]}`, 400, "members"},
		{"group bad name", "POST", "/v1/groups", "", `{"name":"a b","members":["` + other + `"]}`, 400, "name"},
		{"group with itself", "POST", "/v1/groups", "", `{"name":"g","members":["` + self + `"]}`, 400, "itself"},
		{"peer without addr", "POST", "/v1/peers", "", `{}`, 400, "addr"},
		{"peer bad addr", "POST", "/v1/peers", "", `{"addr":"localhost:80"}`, 400, "addr"},
		{"peer is itself", "POST", "/v1/peers", "", `{"addr":"` + alice.Transport().Addrs()[0] + `"}`, 400, "own"},
		{"disconnect unknown", "DELETE", "/v1/peers/16Uiu2HAmNvqnX5nU5V5gFvNvbFGz1JAG2G9dGW3iZNTTCW9ZVJfh", "", ``, 404, "not a peer"},
		{"network without online", "PUT", "/v1/network", "", `{}`, 400, "online"},
		{"faults bad peer", "PUT", "/v1/faults", "", `{"partition":["bob"]}`, 400, "partition[0]"},
		{"faults bad latency", "PUT", "/v1/faults", "", `{"latency":"soon"}`, 400, "duration"},
		{"faults huge latency", "PUT", "/v1/faults", "", `{"latency":"2h"}`, 400, "latency"},
		{"clock backwards", "POST", "/v1/clock/jump", "", `{"by":"-1h"}`, 400, "by"},
		{"no such endpoint", "GET", "/v2/everything", "", ``, 404, "no endpoint"},
		{"wrong method", "DELETE", "/v1/health", "", ``, 405, "not allowed"},
	} {
		status, body := raw(t, c.method, base+c.path, c.ct, c.body)
		if status != c.status {
			t.Errorf("%s: HTTP %d %s; want %d", c.name, status, body, c.status)
			continue
		}
		var e Error
		if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.Contains(e.Error, c.reason) {
			t.Errorf("%s: body %s; want a JSON error mentioning %q", c.name, body, c.reason)
		}
	}
	if status, body := raw(t, "POST", stock.APIAddr()+"/v1/messages/x/retry", "", ""); status != 409 || !strings.Contains(body, "stock") {
		t.Errorf("retry on a stock node: %d %s; want 409 naming the stock node", status, body)
	}
	if status, body := raw(t, "POST", base+"/v1/messages/taken/discard", "", ""); status != 200 {
		t.Fatalf("discard: %d %s", status, body)
	}
	if status, body := raw(t, "POST", base+"/v1/messages/taken/discard", "", ""); status != 409 ||
		strings.Count(body, `discard \"taken\"`) != 1 || !strings.Contains(body, "cannot be discarded") {
		t.Errorf("discard twice: %d %s; want 409 saying once why", status, body)
	}
	// Lists are lists even when empty; counters are camelCase like the rest.
	if status, body := raw(t, "GET", stock.APIAddr()+"/v1/peers", "", ""); status != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("peers of a node without any: %d %s; want []", status, body)
	}
	if _, body := raw(t, "GET", base+"/v1/stats", "", ""); !strings.Contains(body, `"published":`) || strings.Contains(body, `"Published"`) {
		t.Errorf("stats: %s; want camelCase transport counters", body)
	}
}

func TestBearerTokenIsRequiredWhenSet(t *testing.T) {
	n, c := startNode(t, Config{Name: "alice", Token: "s3cret"})
	if status, _ := raw(t, "GET", n.APIAddr()+"/v1/health", "", ""); status != 401 {
		t.Errorf("no token: %d; want 401", status)
	}
	if status, _ := raw(t, "GET", n.APIAddr()+"/v1/health", "", "", "Authorization", "Bearer wrong"); status != 401 {
		t.Errorf("wrong token: %d; want 401", status)
	}
	if _, err := c.Health(context.Background()); err != nil {
		t.Errorf("right token: %v", err)
	}
}

// TestEventStreamResumesAfterASequenceNumber reads the SSE stream.
func TestEventStreamResumesAfterASequenceNumber(t *testing.T) {
	ctx := context.Background()
	alice, ac := startNode(t, Config{Name: "alice"})
	bob, _ := startNode(t, Config{Name: "bob"})
	for i, id := range []string{"e1", "e2"} {
		if _, err := ac.Send(ctx, SendRequest{ID: id, To: bob.Info().ID, Flow: "contact_request"}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", alice.APIAddr()+"/v1/events?after=1", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	deadline := time.After(within)
	for len(got) < 2 {
		select {
		case l := <-lines:
			if strings.HasPrefix(l, "id: ") || strings.HasPrefix(l, "data: ") {
				got = append(got, l)
			}
		case <-deadline:
			t.Fatalf("stream gave %v", got)
		}
	}
	if got[0] != "id: 2" || !strings.Contains(got[1], `"id":"e2"`) || !strings.Contains(got[1], "mvds.message.scheduled") {
		t.Errorf("first streamed event %v; want seq 2, e2 scheduled", got)
	}
}

// TestSignalsListStatusGosSignalsBesideTheGuards: GET /v1/signals gives a
// delivered contact request's mvds.message.* signals and, in status-go's
// JSON, its envelope.sent and message.delivered, each with its event's seq.
func TestSignalsListStatusGosSignalsBesideTheGuards(t *testing.T) {
	ctx := context.Background()
	alice, ac := startNode(t, Config{Name: "alice"})
	bob, _ := startNode(t, Config{Name: "bob"})
	link(t, ac, bob)
	wait.For(t, within, "alice online", func() bool { h, _ := ac.Health(ctx); return h.Online })
	if _, err := ac.Send(ctx, SendRequest{ID: "0xC1", To: bob.Info().ID, ChatID: "chat-bob", Flow: "contact_request", Kind: "control"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, within, "delivered", func() bool { return statusOf(t, ac, "0xC1") == "delivered" })
	code, body := raw(t, "GET", alice.APIAddr()+"/v1/signals", "", "")
	if code != 200 {
		t.Fatalf("GET /v1/signals: %d %s", code, body)
	}
	var got []struct {
		Type  string         `json:"type"`
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, s := range got {
		if s.Type == "mvds.message.rescheduled" {
			continue // a reconnect while the link settles: no legacy signal either way
		}
		types = append(types, s.Type)
		switch s.Type {
		case "envelope.sent":
			if ids, _ := s.Event["ids"].([]any); len(ids) != 1 || ids[0] != "0xc1" {
				t.Errorf("envelope.sent ids %v; want [0xc1], status-go's lower-case hex", s.Event["ids"])
			}
		case "message.delivered":
			if s.Event["chatID"] != "chat-bob" || s.Event["messageID"] != "0xc1" {
				t.Errorf("message.delivered %v", s.Event)
			}
		}
	}
	want := "mvds.message.scheduled mvds.message.sent envelope.sent mvds.message.delivered mvds.message.delivered message.delivered"
	if strings.Join(types, " ") != want {
		t.Fatalf("signals %v;\nwant %s", types, want)
	}
	if code, body := raw(t, "GET", alice.APIAddr()+"/v1/signals?after=x", "", ""); code != 400 || !strings.Contains(body, "after") {
		t.Fatalf("bad cursor: %d %s", code, body)
	}
}
