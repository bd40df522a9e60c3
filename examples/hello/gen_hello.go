//go:build ignore

// gen_hello writes "hello", the smallest static linux/amd64 program that
// prints a line and exits 0: a 64-bit ELF header, one loadable segment and
// 33 bytes of code. It keeps the example free of a compiler and of any base
// image. Run: go run gen_hello.go
package main

import (
	"bytes"
	"encoding/binary"
	"os"
)

func main() {
	msg := []byte("Hello from a daemonless build!\n")
	const base, headers = 0x400000, 64 + 56
	code := []byte{
		0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 (write)
		0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1 (stdout)
		0x48, 0x8d, 0x35, 0x10, 0x00, 0x00, 0x00, // lea rsi, [rip+16] (msg)
		0xba, byte(len(msg)), 0x00, 0x00, 0x00, // mov edx, len(msg)
		0x0f, 0x05, // syscall
		0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
		0x31, 0xff, // xor edi, edi
		0x0f, 0x05, // syscall
	}
	size := uint64(headers + len(code) + len(msg))
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	for _, v := range []any{
		uint16(2), uint16(0x3e), uint32(1), uint64(base + headers), // exec, x86-64, entry
		uint64(64), uint64(0), uint32(0), // program headers at 64, no sections
		uint16(64), uint16(56), uint16(1), uint16(0), uint16(0), uint16(0),
		uint32(1), uint32(5), uint64(0), uint64(base), uint64(base), // PT_LOAD, r-x
		size, size, uint64(0x1000),
	} {
		binary.Write(&b, le, v)
	}
	b.Write(code)
	b.Write(msg)
	if err := os.WriteFile("hello", b.Bytes(), 0o755); err != nil {
		panic(err)
	}
}
