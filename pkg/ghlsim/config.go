package ghlsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Defaults of the run-time configuration: HighLevel's documented values.
const (
	defaultAccessTokenTTL = 86399 * time.Second
	defaultRateMax        = 100
	defaultRateWindow     = 10 * time.Second
	defaultRateDaily      = 200_000
)

// config is the run-time configuration changed with PUT /_sandbox/config.
// A *config is never modified once published; gen tells limiters that the
// limits changed.
type config struct {
	accessTokenTTL time.Duration
	rate           rateConfig
	duplicates     duplicateConfig
	// searchIndexLag is how long a created contact stays out of the
	// contact search and the duplicate lookup, which read HighLevel's
	// search index ("updates may take a few seconds to appear in search
	// results"); upsert finds it at once. 0 by default.
	searchIndexLag time.Duration
	// webhookURL receives the app's webhooks (webhooks.go); none when
	// empty. webhookRetry is the pause before a delivery answered 429 is
	// sent again.
	webhookURL   string
	webhookRetry time.Duration
	// consentPage shows the authorization page as a form with an Approve
	// button instead of approving at once (consent.go).
	consentPage bool
	// installWebhooks sends INSTALL for each sub-account created through
	// the admin API, as HighLevel does for an app installed on the
	// agency's future locations (install.go).
	installWebhooks bool
	// bulkTagsMax is the most contacts one bulk contact tags call may
	// carry; more are answered 422. HighLevel documents no maximum: this
	// is an assumption, to test clients against one. 0 (the default): no
	// maximum.
	bulkTagsMax int
	gen         uint64
}

// duplicateConfig is how a create of a name already taken is answered.
// HighLevel's answer is not documented; the status is configurable so
// that clients are tested against each plausible one.
type duplicateConfig struct {
	// CustomValues is 400 (the default) or 422.
	CustomValues int `json:"customValues"`
	// LocationTags is 200 (the default: the existing tag is returned),
	// 400 or 422.
	LocationTags int `json:"locationTags"`
}

// rateConfig is the per-location limit: Max requests per rolling Window and
// Daily requests per day, which starts DailyReset after midnight UTC
// (HighLevel documents no reset time; 0, midnight UTC, by default).
type rateConfig struct {
	Max        int
	Window     time.Duration
	Daily      int64
	DailyReset time.Duration
}

func defaultConfig() *config {
	return &config{
		accessTokenTTL: defaultAccessTokenTTL,
		rate:           rateConfig{Max: defaultRateMax, Window: defaultRateWindow, Daily: defaultRateDaily},
		duplicates:     duplicateConfig{CustomValues: http.StatusBadRequest, LocationTags: http.StatusOK},
		webhookRetry:   defaultWebhookRetry,
	}
}

// configJSON is the admin API's view of config; durations are Go duration
// strings ("10s", "23h59m59s").
type configJSON struct {
	AccessTokenTTL string          `json:"accessTokenTTL"`
	RateLimit      rateLimitJSON   `json:"rateLimit"`
	Duplicates     duplicateConfig `json:"duplicates"`
	SearchIndexLag string          `json:"searchIndexLag"`
	WebhookURL     string          `json:"webhookUrl"`
	WebhookRetry   string          `json:"webhookRetry"`
	ConsentPage    bool            `json:"consentPage"`
	InstallHooks   bool            `json:"installWebhooks"`
	BulkTagsMax    int             `json:"bulkTagsMax"`
}

type rateLimitJSON struct {
	Max        int    `json:"max"`
	Window     string `json:"window"`
	Daily      int64  `json:"daily"`
	DailyReset string `json:"dailyReset"`
}

// configPatch is a partial update: absent fields keep their value.
type configPatch struct {
	AccessTokenTTL *string `json:"accessTokenTTL"`
	RateLimit      *struct {
		Max        *int    `json:"max"`
		Window     *string `json:"window"`
		Daily      *int64  `json:"daily"`
		DailyReset *string `json:"dailyReset"`
	} `json:"rateLimit"`
	Duplicates *struct {
		CustomValues *int `json:"customValues"`
		LocationTags *int `json:"locationTags"`
	} `json:"duplicates"`
	SearchIndexLag *string `json:"searchIndexLag"`
	WebhookURL     *string `json:"webhookUrl"`
	WebhookRetry   *string `json:"webhookRetry"`
	ConsentPage    *bool   `json:"consentPage"`
	InstallHooks   *bool   `json:"installWebhooks"`
	BulkTagsMax    *int    `json:"bulkTagsMax"`
}

func (c *config) toJSON() configJSON {
	return configJSON{
		AccessTokenTTL: c.accessTokenTTL.String(),
		RateLimit: rateLimitJSON{
			Max: c.rate.Max, Window: c.rate.Window.String(), Daily: c.rate.Daily, DailyReset: c.rate.DailyReset.String(),
		},
		Duplicates:     c.duplicates,
		SearchIndexLag: c.searchIndexLag.String(),
		WebhookURL:     c.webhookURL,
		WebhookRetry:   c.webhookRetry.String(),
		ConsentPage:    c.consentPage,
		InstallHooks:   c.installWebhooks,
		BulkTagsMax:    c.bulkTagsMax,
	}
}

// apply returns a copy of c with the patch applied, or an error naming the
// first invalid field.
func (c *config) apply(p configPatch) (*config, error) {
	next := *c
	next.gen = c.gen + 1
	if p.AccessTokenTTL != nil {
		d, err := time.ParseDuration(*p.AccessTokenTTL)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("accessTokenTTL: want a Go duration of at least 1s, got %q", *p.AccessTokenTTL)
		}
		next.accessTokenTTL = d
	}
	if rl := p.RateLimit; rl != nil {
		if rl.Max != nil {
			if *rl.Max < 1 || *rl.Max > 10_000_000 {
				return nil, fmt.Errorf("rateLimit.max: want 1..10000000, got %d", *rl.Max)
			}
			next.rate.Max = *rl.Max
		}
		if rl.Window != nil {
			d, err := time.ParseDuration(*rl.Window)
			if err != nil || d < time.Millisecond || d > 24*time.Hour {
				return nil, fmt.Errorf("rateLimit.window: want a Go duration between 1ms and 24h, got %q", *rl.Window)
			}
			next.rate.Window = d
		}
		if rl.Daily != nil {
			if *rl.Daily < 1 {
				return nil, fmt.Errorf("rateLimit.daily: want at least 1, got %d", *rl.Daily)
			}
			next.rate.Daily = *rl.Daily
		}
		if rl.DailyReset != nil {
			d, err := time.ParseDuration(*rl.DailyReset)
			if err != nil || d < 0 || d >= 24*time.Hour || d%time.Second != 0 {
				return nil, fmt.Errorf("rateLimit.dailyReset: want a Go duration of whole seconds from 0s to under 24h after midnight UTC, got %q", *rl.DailyReset)
			}
			next.rate.DailyReset = d
		}
	}
	if d := p.Duplicates; d != nil {
		if v := d.CustomValues; v != nil {
			if *v != http.StatusBadRequest && *v != http.StatusUnprocessableEntity {
				return nil, fmt.Errorf("duplicates.customValues: want 400 or 422, got %d", *v)
			}
			next.duplicates.CustomValues = *v
		}
		if v := d.LocationTags; v != nil {
			if *v != http.StatusOK && *v != http.StatusBadRequest && *v != http.StatusUnprocessableEntity {
				return nil, fmt.Errorf("duplicates.locationTags: want 200, 400 or 422, got %d", *v)
			}
			next.duplicates.LocationTags = *v
		}
	}
	if p.SearchIndexLag != nil {
		d, err := time.ParseDuration(*p.SearchIndexLag)
		if err != nil || d < 0 || d > time.Hour {
			return nil, fmt.Errorf("searchIndexLag: want a Go duration between 0s and 1h, got %q", *p.SearchIndexLag)
		}
		next.searchIndexLag = d
	}
	if p.WebhookURL != nil {
		u, err := url.Parse(*p.WebhookURL)
		if *p.WebhookURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			return nil, fmt.Errorf("webhookUrl: want an http or https URL, or \"\" for none, got %q", *p.WebhookURL)
		}
		next.webhookURL = *p.WebhookURL
	}
	if p.WebhookRetry != nil {
		d, err := time.ParseDuration(*p.WebhookRetry)
		if err != nil || d < time.Millisecond || d > time.Hour {
			return nil, fmt.Errorf("webhookRetry: want a Go duration between 1ms and 1h, got %q", *p.WebhookRetry)
		}
		next.webhookRetry = d
	}
	if p.ConsentPage != nil {
		next.consentPage = *p.ConsentPage
	}
	if p.InstallHooks != nil {
		next.installWebhooks = *p.InstallHooks
	}
	if p.BulkTagsMax != nil {
		if *p.BulkTagsMax < 0 || *p.BulkTagsMax > 100_000 {
			return nil, fmt.Errorf("bulkTagsMax: want 0 (no maximum) to 100000, got %d", *p.BulkTagsMax)
		}
		next.bulkTagsMax = *p.BulkTagsMax
	}
	return &next, nil
}

// decodeStrict decodes data into dst, refusing unknown fields, and names
// the offending field in its error.
func decodeStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("%s: want %s, got JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return fmt.Errorf("invalid JSON: more than one value")
	}
	return nil
}
