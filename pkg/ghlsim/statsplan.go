package ghlsim

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// dayPlan is what a planned account posts and earns on one day: the
// numbers the statistics endpoint then reports for it, exactly.
type dayPlan struct {
	Posts       float64 `json:"posts"`
	Impressions float64 `json:"impressions"`
	Likes       float64 `json:"likes"`
}

// statsPlan fixes the daily figures of a platform's accounts: Weekdays
// (by lower-case English name) win over OtherDays.
type statsPlan struct {
	Weekdays  map[string]dayPlan `json:"weekdays"`
	OtherDays dayPlan            `json:"otherDays"`
}

// planBody is PUT /_sandbox/locations/{id}/statistics: a plan per
// platform. A platform without a plan keeps its generated figures; an
// empty body drops every plan.
type planBody struct {
	Platforms map[string]statsPlan `json:"platforms"`
}

// apply replaces m's posts, impressions and likes with the plan's for day
// (days since the Unix epoch); reach, comments and shares follow from
// them, followers stay generated.
func (p *statsPlan) apply(m dayMetrics, day int64) dayMetrics {
	wd := strings.ToLower(time.Unix(day*86400, 0).UTC().Weekday().String())
	d, ok := p.Weekdays[wd]
	if !ok {
		d = p.OtherDays
	}
	m.posts, m.impressions, m.likes = d.Posts, d.Impressions, d.Likes
	m.reach = math.Round(d.Impressions * 0.7)
	m.comments = math.Round(d.Likes * 0.1)
	m.shares = math.Round(d.Likes * 0.05)
	return m
}

// adminPutStatistics sets a location's statistics plans: tests build
// locations whose statistics are known in advance.
func (s *Simulator) adminPutStatistics(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	var body planBody
	if _, ok := readAdminBody(w, r, &body); !ok {
		return
	}
	for p, plan := range body.Platforms {
		if !isPlatform(p) {
			writeAdminError(w, http.StatusBadRequest, "platforms: want one of "+strings.Join(platforms(), ", ")+", got "+quote(p))
			return
		}
		for wd := range plan.Weekdays {
			if !isWeekday(wd) {
				writeAdminError(w, http.StatusBadRequest, fmt.Sprintf("platforms.%s.weekdays: want sunday … saturday, got %s", p, quote(wd)))
				return
			}
		}
	}
	l.mu.Lock()
	l.statsPlans = body.Platforms
	l.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func isWeekday(s string) bool {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.ToLower(d.String()) == s {
			return true
		}
	}
	return false
}

// clockBody is PUT /_sandbox/clock: the simulator's clock runs offset from
// the real one (or from Options.Now), for tests that need past days'
// statistics. Tokens and rate limits follow the same clock.
type clockBody struct {
	Offset string `json:"offset"`
}

func (s *Simulator) adminPutClock(w http.ResponseWriter, r *http.Request) {
	var body clockBody
	if _, ok := readAdminBody(w, r, &body); !ok {
		return
	}
	d, err := time.ParseDuration(body.Offset)
	if body.Offset == "" {
		d, err = 0, nil
	}
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "offset: want a Go duration such as -168h, got "+quote(body.Offset))
		return
	}
	s.clockOffset.Store(int64(d))
	writeJSON(w, http.StatusOK, map[string]string{"offset": d.String(), "now": s.now().UTC().Format(time.RFC3339)})
}
