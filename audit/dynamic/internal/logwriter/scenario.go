package logwriter

import (
	"bytes"
	"math/rand/v2"
	"sort"
	"time"
)

// Session is a quarter of an hour of one status-go node ("alice") at debug
// level, the story the fixture corpus tells in every format:
//
//   - a contact request goes through MVDS and is acknowledged (ContactRequest);
//   - accepting another contact request goes out on the private path without
//     datasync (Accept) — a critical message outside MVDS;
//   - a community request to join goes out on the community topic (Join) and,
//     to the control node, on the private path without encryption (JoinRaw);
//   - a public and a community chat message go out as they should (Public,
//     Community);
//   - two one-to-one messages leave in one datasync packet; one is
//     acknowledged (Chat), the other never is (Lost): it is retransmitted,
//     the device goes offline and back online, and the next retransmission
//     comes only 2.5 minutes after the reconnect;
//   - a paired device acknowledges something status-go has no record of, and
//     the device wakes from sleep with nothing pending.
//
// Noise lines (relay traffic, peer management) fill the gaps as in a real
// log.
type Session struct {
	Entries                                                  []Entry
	Start, Reconnect, End                                    time.Time
	ContactRequest, Accept, Join, JoinRaw, Public, Community string
	Chat, Lost                                               string
	Carol, ControlNode                                       string
}

// NewSession builds the session; style selects how the recipient of
// private sends is written, seed the ids, shift moves every time.
func NewSession(style Style, seed uint64, shift time.Duration) *Session {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	s := &Session{Start: time.Date(2024, 10, 23, 14, 0, 0, 0, time.UTC).Add(shift)}
	at := func(min, sec, ms int) time.Time {
		return s.Start.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond)
	}
	id := func() string { return Hex(r, 32) }
	hashes := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = Hex(r, 32)
		}
		return out
	}
	s.ContactRequest, s.Accept, s.Join, s.JoinRaw = id(), id(), id(), id()
	s.Public, s.Community, s.Chat, s.Lost = id(), id(), id(), id()
	s.Carol, s.ControlNode = PubKey(r), PubKey(r)
	s.Reconnect = at(5, 0, 0)
	s.End = at(15, 0, 0)
	add := func(e Entry) { s.Entries = append(s.Entries, e) }
	add(ConnectionChanged(at(0, 0, 0), true, false))
	add(DatasyncSent(at(0, 5, 331), []string{s.ContactRequest}, hashes(1)))
	add(DatasyncAck(at(0, 6, 870), Hex(r, 32)[2:], s.ContactRequest))
	add(SentPrivate(at(0, 20, 45), style, s.Carol, s.Accept, "ACCEPT_CONTACT_REQUEST", hashes(1)))
	add(SentCommunity(at(0, 35, 500), nil, s.Join, "COMMUNITY_REQUEST_TO_JOIN", hashes(1)))
	add(SentPrivateRaw(at(0, 36, 100), style, s.ControlNode, s.JoinRaw, "COMMUNITY_REQUEST_TO_JOIN", hashes(1)))
	add(SentPublic(at(1, 2, 0), nil, s.Public, "CHAT_MESSAGE", hashes(1)))
	add(SentCommunity(at(1, 10, 0), nil, s.Community, "CHAT_MESSAGE", hashes(2)))
	add(DatasyncSent(at(2, 0, 250), []string{s.Chat, s.Lost}, hashes(1)))
	add(DatasyncAck(at(2, 1, 100), Hex(r, 32)[2:], s.Chat))
	add(DatasyncSent(at(2, 30, 0), []string{s.Lost}, hashes(1)))
	add(ConnectionChanged(at(3, 0, 0), false, false))
	add(ConnectionChanged(s.Reconnect, true, false))
	add(DatasyncSent(at(7, 30, 0), []string{s.Lost}, hashes(1)))
	add(DatasyncAckUnknown(at(8, 0, 0), Hex(r, 32)[2:]))
	add(ConnectionChanged(at(13, 0, 0), true, true))
	// Noise every 1.5 to 4.5 seconds.
	for t := s.Start.Add(120 * time.Millisecond); t.Before(s.End); t = t.Add(time.Duration(1500+r.IntN(3000)) * time.Millisecond) {
		add(Noise(r, t))
	}
	sort.SliceStable(s.Entries, func(i, j int) bool { return s.Entries[i].Time.Before(s.Entries[j].Time) })
	return s
}

// Render writes the session in format f.
func (s *Session) Render(f Format) ([]byte, error) {
	var b bytes.Buffer
	w, err := New(f, &b)
	if err != nil {
		return nil, err
	}
	for _, e := range s.Entries {
		if err := w.Write(e); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}
