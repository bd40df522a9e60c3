package layers

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

func TestHashBehind(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, (hashChunks+3)*hashChunk+17)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name   string
		size   int
		writes func(left int) int // size of the next write
	}{
		{"empty", 0, nil},
		{"one byte", 1, func(int) int { return 1 }},
		{"a chunk less a byte", hashChunk - 1, func(left int) int { return left }},
		{"exactly a chunk", hashChunk, func(left int) int { return left }},
		{"a chunk and a byte", hashChunk + 1, func(left int) int { return left }},
		{"more chunks than buffers, one write", len(data), func(left int) int { return left }},
		{"more chunks than buffers, tar-sized writes", len(data), func(int) int { return 512 }},
		{"more chunks than buffers, uneven writes", len(data), func(int) int { return 1 + rng.IntN(3*hashChunk) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHashBehind()
			for p := data[:tt.size]; len(p) > 0; {
				n := min(tt.writes(len(p)), len(p))
				if k, err := h.Write(p[:n]); k != n || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", k, err, n)
				}
				p = p[n:]
			}
			want := sha256.Sum256(data[:tt.size])
			if got := h.sum(); string(got) != string(want[:]) {
				t.Errorf("sum = %x, want %x", got, want)
			}
			h.stop() // after sum: nothing left to stop
		})
	}
}

// A layer abandoned half way stops its hashing goroutine.
func TestHashBehindStop(t *testing.T) {
	h := newHashBehind()
	h.Write(make([]byte, 3*hashChunk+5))
	if h.full == nil {
		t.Fatal("no hashing goroutine started for three chunks")
	}
	done := h.done
	h.stop()
	select {
	case <-done:
	default:
		t.Error("the hashing goroutine still runs after stop")
	}
}
