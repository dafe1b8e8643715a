package bus

import (
	"context"
	"errors"
	"testing"
	"time"
)

// An attempt whose answer never comes is made again while the caller's
// deadline lives; any other error ends it at once.
func TestUnansweredTriesAgain(t *testing.T) {
	saved := applyAttempt
	applyAttempt = 50 * time.Millisecond
	t.Cleanup(func() { applyAttempt = saved })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	calls := 0
	action, err := unanswered(ctx, func(ctx context.Context) (string, error) {
		calls++
		if calls == 1 {
			<-ctx.Done() // the lost answer
			return "", ctx.Err()
		}
		return "created", nil
	})
	if err != nil || action != "created" || calls != 2 {
		t.Errorf("after a lost answer: %q, %v in %d attempts; want created in 2", action, err, calls)
	}

	refused := errors.New("insufficient resources")
	calls = 0
	if _, err := unanswered(ctx, func(context.Context) (string, error) { calls++; return "", refused }); !errors.Is(err, refused) || calls != 1 {
		t.Errorf("a refusal: %v in %d attempts; want it after 1", err, calls)
	}

	short, cancelShort := context.WithTimeout(ctx, 120*time.Millisecond)
	defer cancelShort()
	calls = 0
	_, err = unanswered(short, func(ctx context.Context) (string, error) { calls++; <-ctx.Done(); return "", ctx.Err() })
	if !errors.Is(err, context.DeadlineExceeded) || calls < 2 || short.Err() == nil {
		t.Errorf("never answered: %v in %d attempts; want the caller's deadline after several", err, calls)
	}
}
