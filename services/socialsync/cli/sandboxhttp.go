package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// getSandbox and postSandbox call the simulator's admin API.
func getSandbox(ctx context.Context, url string, out any) error {
	return sandboxCall(ctx, http.MethodGet, url, nil, out)
}

func postSandbox(ctx context.Context, url string, in, out any) error {
	return sandboxCall(ctx, http.MethodPost, url, in, out)
}

func sandboxCall(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, data)
	}
	return json.Unmarshal(data, out)
}
