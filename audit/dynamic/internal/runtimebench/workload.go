package main

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/dynamic/internal/logwriter"
)

// workload writes a status-go debug log of about size bytes in format f: the
// traffic of one busy node over a few hours. Most lines are unrelated
// (relay traffic, peer management, storenode queries), as in a real log;
// among them a message is sent every 100 ms or so — through datasync (most
// acknowledged within seconds, some retransmitted on status-go's backoff
// curve, one in a hundred never acknowledged), some on the private path without datasync
// (contact request acceptances, chat messages), on community and public
// topics — and the device goes offline for a minute or two every ten
// minutes.
func workload(path string, f logwriter.Format, size int64, seed uint64) (lines int64, err error) {
	out, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", path, err)
	}
	defer out.Close()
	cw := &countWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<20)
	w, err := logwriter.New(f, bw)
	if err != nil {
		return 0, err
	}
	g := &generator{r: rand.New(rand.NewPCG(seed, seed^0xbe4c4)), t: time.Date(2024, 10, 23, 8, 0, 0, 0, time.UTC)}
	g.peers = make([]string, 20)
	for i := range g.peers {
		g.peers[i] = logwriter.PubKey(g.r)
	}
	g.nextOutage = g.t.Add(10 * time.Minute)
	for cw.n+int64(bw.Buffered()) < size {
		if err := w.Write(g.next()); err != nil {
			return lines, fmt.Errorf("write %s: %w", path, err)
		}
		lines++
	}
	if err := bw.Flush(); err != nil {
		return lines, fmt.Errorf("write %s: %w", path, err)
	}
	return lines, out.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type generator struct {
	r          *rand.Rand
	t          time.Time
	peers      []string
	due        dueHeap
	offline    bool
	nextOutage time.Time
}

type due struct {
	at    time.Time
	entry func(time.Time) logwriter.Entry
}

type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (g *generator) later(d time.Duration, e func(time.Time) logwriter.Entry) {
	heap.Push(&g.due, due{at: g.t.Add(d), entry: e})
}

func (g *generator) id() string { return logwriter.Hex(g.r, 32) }

func (g *generator) hashes() []string { return []string{logwriter.Hex(g.r, 32)} }

// next returns the next line, in time order.
func (g *generator) next() logwriter.Entry {
	g.t = g.t.Add(time.Duration(g.r.IntN(4000)) * time.Microsecond)
	if len(g.due) > 0 && !g.due[0].at.After(g.t) {
		d := heap.Pop(&g.due).(due)
		return d.entry(d.at)
	}
	if !g.t.Before(g.nextOutage) {
		g.offline = !g.offline
		if g.offline {
			g.nextOutage = g.t.Add(time.Duration(60+g.r.IntN(60)) * time.Second)
		} else {
			g.nextOutage = g.t.Add(time.Duration(8+g.r.IntN(4)) * time.Minute)
		}
		return logwriter.ConnectionChanged(g.t, !g.offline, false)
	}
	if g.r.IntN(50) != 0 {
		return logwriter.Noise(g.r, g.t)
	}
	peer := g.peers[g.r.IntN(len(g.peers))]
	switch n := g.r.IntN(100); {
	case n < 85:
		g.datasync(g.id(), 0)
		return logwriter.Noise(g.r, g.t)
	case n < 88:
		return logwriter.SentPrivate(g.t, logwriter.Current, peer, g.id(), []string{"ACCEPT_CONTACT_REQUEST", "CHAT_MESSAGE"}[g.r.IntN(2)], g.hashes())
	case n < 94:
		return logwriter.SentCommunity(g.t, nil, g.id(), "CHAT_MESSAGE", g.hashes())
	default:
		return logwriter.SentPublic(g.t, nil, g.id(), "CHAT_MESSAGE", g.hashes())
	}
}

// datasync schedules a message's next transmission in MVDS; when it goes
// out, its fate is drawn: acknowledged within seconds, retransmitted on
// status-go's backoff curve, or never heard of again.
func (g *generator) datasync(id string, sent int) {
	g.later(time.Duration(g.r.IntN(300))*time.Millisecond, func(t time.Time) logwriter.Entry {
		switch n := g.r.IntN(100); {
		case n < 95 && !g.offline:
			heap.Push(&g.due, due{at: t.Add(time.Duration(300+g.r.IntN(3000)) * time.Millisecond), entry: func(t time.Time) logwriter.Entry {
				return logwriter.DatasyncAck(t, logwriter.Hex(g.r, 32)[2:], id)
			}})
		case n < 99 && sent < 5:
			// status-go's curve: 27 s, doubling with every transmission.
			heap.Push(&g.due, due{at: t.Add((27 * time.Second) << sent), entry: func(t time.Time) logwriter.Entry {
				g.datasync(id, sent+1)
				return logwriter.Noise(g.r, t)
			}})
		}
		return logwriter.DatasyncSent(t, []string{id}, []string{logwriter.Hex(g.r, 32)})
	})
}
