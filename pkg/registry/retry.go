package registry

import (
	"context"
	"time"
)

// Retry calls f until it succeeds, ctx ends, or it has been retried n
// times, waiting wait (1s when 0), then twice as long each time. notify,
// when set, hears of each failure that will be retried.
func Retry(ctx context.Context, n int, wait time.Duration, notify func(attempt int, next time.Duration, err error), f func() error) error {
	if wait <= 0 {
		wait = time.Second
	}
	for i := 0; ; i++ {
		err := f()
		if err == nil || i >= n || ctx.Err() != nil {
			return err
		}
		if notify != nil {
			notify(i+1, wait, err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
