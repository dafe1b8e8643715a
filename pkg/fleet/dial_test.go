package fleet

import "testing"

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://worker:s3cret@nats:4222", "nats://redacted@nats:4222"},
		{"nats://t0ken@nats:4222", "nats://redacted@nats:4222"},
		{"nats://a:pw1@n1:4222, nats://n2:4222,nats://tok@n3:4222", "nats://redacted@n1:4222,nats://n2:4222,nats://redacted@n3:4222"},
		{"nats://us er:p%zz@host", "redacted"},
		{"nats:4222", "nats:4222"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
