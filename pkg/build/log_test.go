package build

import (
	"bytes"
	"io"
	"log"
	"log/slog"
)

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// debugTo makes a build log its debug records into buf, for a test to
// read what the build did.
func debugTo(buf *bytes.Buffer) func(*Options) {
	return func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}
