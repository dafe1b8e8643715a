package ghl

import "time"

// This file holds HighLevel's wire types: the JSON bodies that its API
// sends and accepts, with the field names of the official OpenAPI files.
// The simulator (package ghlsim) serves the same types, so the client and
// the simulator cannot drift apart silently; the contract tests check both
// against the official files.

// Envelope is the success wrapper of most Social Planner responses.
type Envelope[T any] struct {
	Success    bool   `json:"success"`
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Results    T      `json:"results"`
	TraceID    string `json:"traceId,omitempty"`
}

// SocialTag is a Social Planner tag (SocialMediaTagSchema).
type SocialTag struct {
	ID         string    `json:"_id"`
	Tag        string    `json:"tag"`
	LocationID string    `json:"locationId"`
	CreatedBy  string    `json:"createdBy,omitempty"`
	Deleted    bool      `json:"deleted"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// TagsResults is the results object of the tag list and tag details calls.
// Count is the number of tags in this page.
type TagsResults struct {
	Tags  []SocialTag `json:"tags"`
	Count int         `json:"count"`
}

// TagDetailsRequest is the body of POST /social-media-posting/{loc}/tags/details.
type TagDetailsRequest struct {
	TagIDs []string `json:"tagIds"`
}

// Account is a connected social account (GetAccountSchema).
type Account struct {
	ID        string         `json:"id"`
	OAuthID   string         `json:"oauthId,omitempty"`
	ProfileID string         `json:"profileId"`
	Name      string         `json:"name"`
	Platform  string         `json:"platform"`
	Type      string         `json:"type,omitempty"`
	Expire    string         `json:"expire,omitempty"`
	IsExpired bool           `json:"isExpired"`
	Meta      map[string]any `json:"meta,omitempty"`
}

// AccountGroup is a named group of accounts (GetGroupSchema).
type AccountGroup struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	AccountIDs []string `json:"accountIds"`
}

// AccountsResults is the results object of the accounts call.
type AccountsResults struct {
	Accounts []Account      `json:"accounts"`
	Groups   []AccountGroup `json:"groups"`
}

// Post is a Social Planner post (GetPostFormattedSchema). Tags holds tag ids.
type Post struct {
	ID          string      `json:"_id"`
	Source      string      `json:"source,omitempty"`
	LocationID  string      `json:"locationId"`
	Platform    string      `json:"platform,omitempty"`
	DisplayDate *time.Time  `json:"displayDate,omitempty"`
	CreatedAt   *time.Time  `json:"createdAt,omitempty"`
	UpdatedAt   *time.Time  `json:"updatedAt,omitempty"`
	AccountID   string      `json:"accountId,omitempty"`
	Error       string      `json:"error"`
	PostID      string      `json:"postId,omitempty"`
	PublishedAt *time.Time  `json:"publishedAt,omitempty"`
	AccountIDs  []string    `json:"accountIds,omitempty"`
	Summary     string      `json:"summary,omitempty"`
	Media       []PostMedia `json:"media,omitempty"`
	Status      string      `json:"status,omitempty"`
	CreatedBy   string      `json:"createdBy,omitempty"`
	Type        string      `json:"type"`
	Tags        []string    `json:"tags"`
	User        *PostUser   `json:"user,omitempty"`
}

// PostUser is the user who created a post (PostUserSchema); the posts list
// carries it when the request sets includeUsers to "true".
type PostUser struct {
	ID           string `json:"id"`
	Title        string `json:"title"`
	FirstName    string `json:"firstName"`
	LastName     string `json:"lastName"`
	ProfilePhoto string `json:"profilePhoto"`
	Phone        string `json:"phone"`
	Email        string `json:"email"`
}

// PostMedia is one media item of a post (PostMediaSchema).
type PostMedia struct {
	URL       string `json:"url"`
	Caption   string `json:"caption,omitempty"`
	Type      string `json:"type,omitempty"`
	Thumbnail string `json:"thumbnail,omitempty"`
	ID        string `json:"id,omitempty"`
}

// ListPostsRequest is the body of POST /social-media-posting/{loc}/posts/list
// (SearchPostDTO). HighLevel types skip, limit and includeUsers as strings.
type ListPostsRequest struct {
	Type         string `json:"type,omitempty"`
	Accounts     string `json:"accounts,omitempty"`
	Skip         string `json:"skip"`
	Limit        string `json:"limit"`
	FromDate     string `json:"fromDate"`
	ToDate       string `json:"toDate"`
	IncludeUsers string `json:"includeUsers"`
	PostType     string `json:"postType,omitempty"`
}

// PostsResults is the results object of the posts list call.
type PostsResults struct {
	Posts []Post `json:"posts"`
	Count int    `json:"count"`
}

// PostResults is the results object of the get-post call.
type PostResults struct {
	Post Post `json:"post"`
}

// StatisticsRequest is the body of POST /social-media-posting/statistics.
type StatisticsRequest struct {
	ProfileIDs []string `json:"profileIds"`
	Platforms  []string `json:"platforms,omitempty"`
}

// StatisticsResponse is the statistics call's body: no success envelope.
type StatisticsResponse struct {
	Results Statistics `json:"results"`
	Message string     `json:"message"`
	TraceID string     `json:"traceId,omitempty"`
}

// Statistics is the analytics of the last 7 days (excluding today) compared
// with the 7 days before. Series are per day, aligned with DayRange.
type Statistics struct {
	DayRange        []string        `json:"dayRange"`
	Totals          StatTotals      `json:"totals"`
	PostPerformance PostPerformance `json:"postPerformance"`
	Breakdowns      Breakdowns      `json:"breakdowns"`
	PlatformTotals  PlatformTotals  `json:"platformTotals"`
	Demographics    Demographics    `json:"demographics"`
}

// StatTotals are the totals over all platforms.
type StatTotals struct {
	Posts       float64 `json:"posts"`
	Likes       float64 `json:"likes"`
	Followers   float64 `json:"followers"`
	Impressions float64 `json:"impressions"`
	Comments    float64 `json:"comments"`
}

// PostPerformance holds daily series; Posts is keyed by platform.
type PostPerformance struct {
	Posts       map[string][]float64 `json:"posts"`
	Impressions []float64            `json:"impressions"`
	Likes       []float64            `json:"likes"`
	Comments    []float64            `json:"comments"`
}

// Breakdowns splits metrics by platform, with percentage change against the
// previous period.
type Breakdowns struct {
	Posts       MetricBreakdown               `json:"posts"`
	Impressions MetricBreakdown               `json:"impressions"`
	Reach       MetricBreakdown               `json:"reach"`
	Engagement  map[string]PlatformEngagement `json:"engagement"`
}

// MetricBreakdown is one metric's total and per-platform values.
type MetricBreakdown struct {
	Total       float64                    `json:"total"`
	TotalChange float64                    `json:"totalChange"`
	Platforms   map[string]ValueWithChange `json:"platforms"`
}

// ValueWithChange is a value and its percentage change.
type ValueWithChange struct {
	Value  float64 `json:"value"`
	Change float64 `json:"change"`
}

// PlatformEngagement is one platform's engagement counts.
type PlatformEngagement struct {
	Likes    float64 `json:"likes"`
	Comments float64 `json:"comments"`
	Shares   float64 `json:"shares"`
	Change   float64 `json:"change"`
}

// PlatformTotals holds per-platform totals with daily series.
type PlatformTotals struct {
	Impressions map[string]SeriesTotal `json:"impressions"`
	Followers   map[string]SeriesTotal `json:"followers"`
	Likes       map[string]SeriesTotal `json:"likes"`
}

// SeriesTotal is a total and its daily series.
type SeriesTotal struct {
	Total  float64   `json:"total"`
	Series []float64 `json:"series"`
}

// Demographics describes the audience.
type Demographics struct {
	Gender GenderDemographics `json:"gender"`
	Age    AgeDemographics    `json:"age"`
}

// GenderDemographics is keyed by "male", "female" and "unknown".
type GenderDemographics struct {
	Totals map[string]Share `json:"totals"`
}

// Share is a count and its percentage.
type Share struct {
	Total      float64 `json:"total"`
	Percentage float64 `json:"percentage"`
}

// AgeDemographics is keyed by age band ("13-17" … "65+").
type AgeDemographics struct {
	Totals map[string]float64 `json:"totals"`
}

// ContactTags is the body of the contact tags add and remove calls and of
// their responses (TagsDTO). Tags are tag names, not ids.
type ContactTags struct {
	Tags []string `json:"tags"`
}

// BulkTagsRequest is the body of POST /contacts/bulk/tags/update/{type}.
type BulkTagsRequest struct {
	Contacts      []string `json:"contacts"`
	Tags          []string `json:"tags"`
	LocationID    string   `json:"locationId"`
	RemoveAllTags bool     `json:"removeAllTags,omitempty"`
}

// BulkTagsResponse is the bulk call's answer (UpdateTagsResponseDTO; the
// misspelling "succeded" is HighLevel's).
type BulkTagsResponse struct {
	Succeeded  bool             `json:"succeded"`
	ErrorCount int              `json:"errorCount"`
	Responses  []BulkTagOutcome `json:"responses"`
}

// BulkTagOutcome is the outcome for one contact of a bulk call: Type is
// "success" or "error". A success carries the three tag lists, empty ones
// as []; an error carries none of them (nil slices are omitted).
type BulkTagOutcome struct {
	ContactID   string   `json:"contactId"`
	Message     string   `json:"message"`
	Type        string   `json:"type"`
	OldTags     []string `json:"oldTags,omitzero"`
	TagsAdded   []string `json:"tagsAdded,omitzero"`
	TagsRemoved []string `json:"tagsRemoved,omitzero"`
}

// Contact is a contact as returned by the contact search.
type Contact struct {
	ID           string        `json:"id"`
	LocationID   string        `json:"locationId"`
	FirstName    string        `json:"firstName,omitempty"`
	LastName     string        `json:"lastName,omitempty"`
	Email        string        `json:"email,omitempty"`
	Phone        string        `json:"phone,omitempty"`
	Timezone     string        `json:"timezone,omitempty"`
	Country      string        `json:"country,omitempty"`
	Source       string        `json:"source,omitempty"`
	DateAdded    string        `json:"dateAdded,omitempty"`
	Tags         []string      `json:"tags"`
	CustomFields []CustomField `json:"customFields,omitempty"`
}

// CustomField is one custom field value of a contact.
type CustomField struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

// SearchFilter is one filter of a contact search: Field, Operator (eq,
// not_eq, contains, not_contains, exists, not_exists, range) and Value.
type SearchFilter struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    any    `json:"value,omitempty"`
}

// SearchContactsRequest is the body of POST /contacts/search.
type SearchContactsRequest struct {
	LocationID  string         `json:"locationId"`
	Page        int            `json:"page,omitempty"`
	PageLimit   int            `json:"pageLimit"`
	SearchAfter []any          `json:"searchAfter,omitempty"`
	Filters     []SearchFilter `json:"filters,omitempty"`
	Query       string         `json:"query,omitempty"`
}

// SearchContactsResponse is the contact search's answer.
type SearchContactsResponse struct {
	Contacts []Contact `json:"contacts"`
	Total    int       `json:"total"`
	TraceID  string    `json:"traceId,omitempty"`
}

// LocationTag is a tag of the location's contact tag catalogue.
type LocationTag struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	LocationID string `json:"locationId"`
}

// LocationDetails is what socialsync reads of a location
// (GetLocationByIdSchema; the schema's other fields are not kept).
type LocationDetails struct {
	ID        string `json:"id"`
	CompanyID string `json:"companyId,omitempty"`
	Name      string `json:"name,omitempty"`
	// Timezone is the location's IANA time zone (e.g. "US/Central").
	Timezone string `json:"timezone,omitempty"`
}

// LocationResponse is the answer of GET /locations/{loc}.
type LocationResponse struct {
	Location LocationDetails `json:"location"`
}

// LocationTagsResponse is the answer of GET /locations/{loc}/tags.
type LocationTagsResponse struct {
	Tags []LocationTag `json:"tags"`
}

// LocationTagResponse is the answer of POST /locations/{loc}/tags.
type LocationTagResponse struct {
	Tag LocationTag `json:"tag"`
}

// LocationTagBody is the body of POST /locations/{loc}/tags.
type LocationTagBody struct {
	Name string `json:"name"`
}

// CustomValue is a location custom value.
type CustomValue struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	FieldKey   string `json:"fieldKey"`
	Value      string `json:"value"`
	LocationID string `json:"locationId"`
}

// CustomValueBody is the body of the custom value create and update calls.
type CustomValueBody struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CustomValuesResponse is the answer of GET /locations/{loc}/customValues.
type CustomValuesResponse struct {
	CustomValues []CustomValue `json:"customValues"`
}

// CustomValueResponse is the answer of the custom value create and update calls.
type CustomValueResponse struct {
	CustomValue CustomValue `json:"customValue"`
}

// Token is the answer of POST /oauth/token (and, without refresh token
// fields for older installs, of POST /oauth/locationToken).
type Token struct {
	AccessToken        string   `json:"access_token"`
	TokenType          string   `json:"token_type"`
	ExpiresIn          int      `json:"expires_in"`
	RefreshToken       string   `json:"refresh_token,omitempty"`
	Scope              string   `json:"scope,omitempty"`
	UserType           string   `json:"userType,omitempty"`
	LocationID         string   `json:"locationId,omitempty"`
	CompanyID          string   `json:"companyId,omitempty"`
	ApprovedLocations  []string `json:"approvedLocations,omitempty"`
	UserID             string   `json:"userId"`
	PlanID             string   `json:"planId,omitempty"`
	IsBulkInstallation bool     `json:"isBulkInstallation,omitempty"`
	AppID              string   `json:"appId,omitempty"`
	VersionID          string   `json:"versionId,omitempty"`
	// InstallToFutureLocations and ApproveAllLocations are sent with
	// Company tokens only.
	InstallToFutureLocations bool `json:"installToFutureLocations,omitempty"`
	ApproveAllLocations      bool `json:"approveAllLocations,omitempty"`
}

// InstalledLocation is a location of a company and whether an app is
// installed there (InstalledLocationSchema).
type InstalledLocation struct {
	ID          string     `json:"_id"`
	Name        string     `json:"name"`
	Address     string     `json:"address"`
	IsInstalled bool       `json:"isInstalled"`
	VersionID   string     `json:"versionId,omitempty"`
	InstalledAt *time.Time `json:"installedAt,omitempty"`
}

// InstalledLocationsResponse is the answer of GET /oauth/installedLocations.
// Count is the number of matching locations, not the page size.
type InstalledLocationsResponse struct {
	Locations                []InstalledLocation `json:"locations"`
	Count                    int                 `json:"count"`
	InstallToFutureLocations bool                `json:"installToFutureLocations"`
}
