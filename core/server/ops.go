package server

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"carenet.dev/platform/core/authz"
	"carenet.dev/platform/core/pluginhost"
)

type metrics struct {
	reg      prometheus.Gatherer
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "platform_http_requests_total", Help: "HTTP requests by tenant, route and status.",
		}, []string{"tenant", "method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "platform_http_request_duration_seconds", Help: "HTTP request latency by tenant and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"tenant", "method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.reg = g
	} else {
		m.reg = prometheus.DefaultGatherer
	}
	return m, nil
}

func (m *metrics) observe(tenant, method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(tenant, method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(tenant, method, route).Observe(d.Seconds())
}

type readiness struct {
	Status  string              `json:"status"`
	DB      string              `json:"database"`
	Modules []pluginhost.Status `json:"modules"`
}

// bindOps mounts the operational endpoints, which belong to no tenant.
func (s *Server) bindOps() {
	s.route(fiber.MethodGet, "/healthz", authz.PermPublic, func(c *fiber.Ctx) error {
		return c.SendString("ok")
	})
	s.route(fiber.MethodGet, "/readyz", authz.PermPublic, func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		r := readiness{Status: "ok", DB: "ok", Modules: []pluginhost.Status{}}
		if err := s.DB.Ping(ctx); err != nil {
			r.Status, r.DB = "degraded", "down"
		}
		for _, m := range s.Modules.Statuses() {
			m.Error = "" // the cause is in the log, not on a public endpoint
			r.Modules = append(r.Modules, m)
			if m.State != pluginhost.StateRunning {
				r.Status = "degraded"
			}
		}
		code := fiber.StatusOK
		if r.Status != "ok" {
			code = fiber.StatusServiceUnavailable
		}
		return c.Status(code).JSON(r)
	})
	h := adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	s.route(fiber.MethodGet, "/metrics", authz.PermPublic, h)
}
