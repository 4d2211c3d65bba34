package retry

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are optional: a nil *metrics records nothing.
type metrics struct {
	sent        *prometheus.CounterVec
	delivered   *prometheus.CounterVec
	failed      *prometheus.CounterVec
	rescheduled *prometheus.CounterVec
	attempts    *prometheus.HistogramVec
	timeToAck   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mvdsguard", Subsystem: "retry", Name: "sent_total",
			Help: "Attempts that went out, per flow.",
		}, []string{"flow"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mvdsguard", Subsystem: "retry", Name: "delivered_total",
			Help: "Recipients that acknowledged a tracked message, per flow.",
		}, []string{"flow"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mvdsguard", Subsystem: "retry", Name: "failed_total",
			Help: "Messages that ended failed, per flow and reason.",
		}, []string{"flow", "reason"}),
		rescheduled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mvdsguard", Subsystem: "retry", Name: "rescheduled_total",
			Help: "Messages moved earlier by a reconnect, a wake or a user retry, per flow and reason.",
		}, []string{"flow", "reason"}),
		attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "mvdsguard", Subsystem: "retry", Name: "attempts_to_ack",
			Help:    "Attempts a recipient needed before acknowledging, per flow.",
			Buckets: []float64{1, 2, 3, 5, 8, 13, 21, 34},
		}, []string{"flow"}),
		timeToAck: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "mvdsguard", Subsystem: "retry", Name: "time_to_ack_seconds",
			Help:    "Seconds from Send (or Track) to a recipient's acknowledgement, per flow.",
			Buckets: prometheus.ExponentialBuckets(0.1, 3, 12),
		}, []string{"flow"}),
	}
	// A Guard built again in the same process (status-go logs out and in)
	// counts on in the collectors the first one registered.
	for _, c := range []**prometheus.CounterVec{&m.sent, &m.delivered, &m.failed, &m.rescheduled} {
		if err := register(reg, c); err != nil {
			return nil, err
		}
	}
	for _, h := range []**prometheus.HistogramVec{&m.attempts, &m.timeToAck} {
		if err := register(reg, h); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// register registers *c with reg, or points *c at the collector of the same
// name already registered there.
func register[T prometheus.Collector](reg prometheus.Registerer, c *T) error {
	err := reg.Register(*c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		existing, ok := already.ExistingCollector.(T)
		if !ok {
			return fmt.Errorf("register retry metrics: a different collector is registered under the same name: %w", err)
		}
		*c = existing
		return nil
	}
	if err != nil {
		return fmt.Errorf("register retry metrics: %w", err)
	}
	return nil
}
