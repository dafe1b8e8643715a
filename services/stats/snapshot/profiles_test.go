package snapshot

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSelect(t *testing.T) {
	accounts := []Account{
		{ProfileID: "p1", Platform: "facebook"},
		{ProfileID: "p2", Platform: "instagram"},
		{ProfileID: "p3", Platform: "facebook", Expired: true},
		{ProfileID: "p4", Platform: "linkedin"},
		{ProfileID: "p1", Platform: "facebook"}, // listed twice
		{ProfileID: "", Platform: "google"},     // no profile: never sent
	}
	tests := []struct {
		name    string
		req     Request
		want    []string
		wantErr bool
	}{
		{"all live accounts", Request{}, []string{"p1", "p2", "p4"}, false},
		{"platform filter", Request{Platforms: []string{"facebook", "linkedin"}}, []string{"p1", "p4"}, false},
		{"no account on the platform", Request{Platforms: []string{"tiktok"}}, nil, false},
		{"requested ids in request order, expired kept", Request{ProfileIDs: []string{"p3", "p2", "p3"}}, []string{"p3", "p2"}, false},
		{"requested ids filtered by platform", Request{ProfileIDs: []string{"p1", "p2"}, Platforms: []string{"instagram"}}, []string{"p2"}, false},
		{"unknown profile id", Request{ProfileIDs: []string{"p1", "nope"}}, nil, true},
		{"unknown platform", Request{Platforms: []string{"myspace"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(accounts, tt.req)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidRequest) {
					t.Fatalf("Select() error = %v, want ErrInvalidRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Select() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectNoAccounts(t *testing.T) {
	got, err := Select(nil, Request{})
	if err != nil || len(got) != 0 {
		t.Fatalf("Select(nil) = %v, %v; want nothing and no error", got, err)
	}
}
