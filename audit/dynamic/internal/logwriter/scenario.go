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
	legacy := style == Legacy
	// The lines whose form changed over the releases.
	connection := func(t time.Time, online, force bool) Entry {
		if legacy {
			return LegacyConnectionChanged(t, online)
		}
		return ConnectionChanged(t, online, force)
	}
	dispatch := func(t time.Time, ids []string) Entry {
		if legacy {
			return LegacyDatasyncSent(t, ids, hashes(1)[0])
		}
		return DatasyncSent(t, ids, hashes(1))
	}
	ack := func(t time.Time, id string) {
		// Before 2024-02-27 an acknowledgement was not logged.
		if !legacy {
			add(DatasyncAck(t, Hex(r, 32)[2:], id))
		}
	}
	add(connection(at(0, 0, 0), true, false))
	add(dispatch(at(0, 5, 331), []string{s.ContactRequest}))
	ack(at(0, 6, 870), s.ContactRequest)
	// Sends outside MVDS: the line of the release, by time.
	for _, x := range []struct {
		t       time.Time
		legacy  string
		id      string
		current func(t time.Time, id string) Entry
	}{
		{at(0, 20, 45), LegacyPrivate, s.Accept, func(t time.Time, id string) Entry {
			return SentPrivate(t, style, s.Carol, id, "ACCEPT_CONTACT_REQUEST", hashes(1))
		}},
		{at(0, 35, 500), LegacyCommunity, s.Join, func(t time.Time, id string) Entry {
			return SentCommunity(t, nil, id, "COMMUNITY_REQUEST_TO_JOIN", hashes(1))
		}},
		{at(0, 36, 100), LegacyPrivateRaw, s.JoinRaw, func(t time.Time, id string) Entry {
			return SentPrivateRaw(t, style, s.ControlNode, id, "COMMUNITY_REQUEST_TO_JOIN", hashes(1))
		}},
		{at(1, 2, 0), LegacyPublic, s.Public, func(t time.Time, id string) Entry {
			return SentPublic(t, nil, id, "CHAT_MESSAGE", hashes(1))
		}},
		{at(1, 10, 0), LegacyCommunity, s.Community, func(t time.Time, id string) Entry {
			return SentCommunity(t, nil, id, "CHAT_MESSAGE", hashes(2))
		}},
	} {
		if legacy {
			add(LegacySent(x.t, x.legacy, x.id, hashes(1)[0]))
		} else {
			add(x.current(x.t, x.id))
		}
	}
	add(dispatch(at(2, 0, 250), []string{s.Chat, s.Lost}))
	ack(at(2, 1, 100), s.Chat)
	add(dispatch(at(2, 30, 0), []string{s.Lost}))
	add(connection(at(3, 0, 0), false, false))
	add(connection(s.Reconnect, true, false))
	add(dispatch(at(7, 30, 0), []string{s.Lost}))
	add(DatasyncAckUnknown(at(8, 0, 0), Hex(r, 32)[2:]))
	add(connection(at(13, 0, 0), true, true))
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
