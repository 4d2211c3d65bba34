package dynamic_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mvdsguard/mvdsguard/audit/config"
	"github.com/mvdsguard/mvdsguard/audit/dynamic"
	"github.com/mvdsguard/mvdsguard/audit/dynamic/internal/logwriter"
)

// BenchmarkRead reads 16 MiB of status-go debug log in each format from
// memory: the reader and the Recorder without the disk. make bench-runtime
// measures the command on a 1 GiB file against wc -l.
func BenchmarkRead(b *testing.B) {
	for _, f := range []logwriter.Format{logwriter.Geth, logwriter.ZapConsole, logwriter.ZapJSON} {
		b.Run(string(f), func(b *testing.B) {
			var buf bytes.Buffer
			w, err := logwriter.New(f, &buf)
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 1))
			t := time.Date(2024, 10, 23, 0, 0, 0, 0, time.UTC)
			peer := logwriter.PubKey(r)
			for i := 0; buf.Len() < 16<<20; i++ {
				t = t.Add(2 * time.Millisecond)
				switch i % 50 {
				case 0:
					w.Write(logwriter.DatasyncSent(t, []string{logwriter.Hex(r, 32)}, nil))
				case 1:
					w.Write(logwriter.SentPrivate(t, logwriter.Current, peer, logwriter.Hex(r, 32), "CHAT_MESSAGE", nil))
				default:
					w.Write(logwriter.Noise(r, t))
				}
			}
			data := buf.Bytes()
			cfg := config.DefaultRuntime()
			cfg.Year = 2024
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec, err := dynamic.NewRecorder(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := dynamic.Read(context.Background(), bytes.NewReader(data), "bench", rec); err != nil {
					b.Fatal(err)
				}
				rec.Finish(rec.Clock())
			}
		})
	}
}
