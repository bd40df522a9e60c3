package stephelper

import "errors"

// The configuration travels as a list of tokens, each its length in
// decimal, a colon and its bytes: binary-safe, and written and read
// without fmt, strconv or encoding/json.

// Encode serializes c.
func (c *Config) Encode() []byte {
	var e encoder
	e.str(c.Root)
	e.strs(c.Args)
	e.strs(c.Env)
	e.str(c.Dir)
	e.uint(uint64(c.UID))
	e.uint(uint64(c.GID))
	e.uint(uint64(len(c.Groups)))
	for _, g := range c.Groups {
		e.uint(uint64(g))
	}
	e.str(c.Hostname)
	e.bool(c.NetNone)
	e.strs(c.Mounts)
	e.uint(uint64(len(c.Binds)))
	for _, b := range c.Binds {
		e.str(b.Source)
		e.str(b.Target)
		e.bool(b.ReadOnly)
		e.bool(b.Tmpfs)
		e.uint(b.Size)
	}
	e.uint(uint64(len(c.Files)))
	for name, data := range c.Files {
		e.str(name)
		e.token(data)
	}
	e.bool(c.Insecure)
	e.token(c.Seccomp)
	e.bool(c.InPlace)
	e.bool(c.SameUser)
	return e.buf
}

// Decode parses what Encode wrote.
func Decode(data []byte) (*Config, error) {
	d := &decoder{buf: data}
	c := &Config{}
	c.Root = d.str()
	c.Args = d.strs()
	c.Env = d.strs()
	c.Dir = d.str()
	c.UID = uint32(d.uint())
	c.GID = uint32(d.uint())
	for n := d.count(); n > 0; n-- {
		c.Groups = append(c.Groups, uint32(d.uint()))
	}
	c.Hostname = d.str()
	c.NetNone = d.bool()
	c.Mounts = d.strs()
	for n := d.count(); n > 0; n-- {
		c.Binds = append(c.Binds, Bind{Source: d.str(), Target: d.str(), ReadOnly: d.bool(), Tmpfs: d.bool(), Size: d.uint()})
	}
	if n := d.count(); n > 0 {
		c.Files = map[string][]byte{}
		for ; n > 0; n-- {
			name := d.str()
			c.Files[name] = d.token()
		}
	}
	c.Insecure = d.bool()
	if seccomp := d.token(); len(seccomp) > 0 {
		c.Seccomp = seccomp
	}
	c.InPlace = d.bool()
	c.SameUser = d.bool()
	if d.err != nil {
		return nil, d.err
	}
	if len(d.buf) != 0 {
		return nil, errors.New("the step configuration has trailing bytes")
	}
	return c, nil
}

type encoder struct{ buf []byte }

func (e *encoder) token(b []byte) {
	e.buf = appendUint(e.buf, uint64(len(b)))
	e.buf = append(e.buf, ':')
	e.buf = append(e.buf, b...)
}

func (e *encoder) str(s string)  { e.token([]byte(s)) }
func (e *encoder) uint(n uint64) { e.token(appendUint(nil, n)) }
func (e *encoder) bool(b bool)   { e.str(map[bool]string{false: "0", true: "1"}[b]) }
func (e *encoder) strs(s []string) {
	e.uint(uint64(len(s)))
	for _, x := range s {
		e.str(x)
	}
}

func appendUint(b []byte, n uint64) []byte {
	var digits [20]byte
	i := len(digits)
	for {
		i--
		digits[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, digits[i:]...)
}

// atoi reads a decimal number of digits only (a /proc entry's name).
func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func itoa(n int) string {
	return string(appendUint(nil, uint64(n)))
}

type decoder struct {
	buf []byte
	err error
}

var errMalformed = errors.New("the step configuration is malformed")

func (d *decoder) token() []byte {
	if d.err != nil {
		return nil
	}
	n, i := 0, 0
	for ; i < len(d.buf) && d.buf[i] != ':'; i++ {
		c := d.buf[i]
		if c < '0' || c > '9' || n > len(d.buf) {
			d.err = errMalformed
			return nil
		}
		n = n*10 + int(c-'0')
	}
	if i == 0 || i == len(d.buf) || len(d.buf)-i-1 < n {
		d.err = errMalformed
		return nil
	}
	tok := d.buf[i+1 : i+1+n]
	d.buf = d.buf[i+1+n:]
	return tok
}

func (d *decoder) str() string { return string(d.token()) }
func (d *decoder) bool() bool  { return d.str() == "1" }

func (d *decoder) uint() uint64 {
	tok := d.token()
	var n uint64
	for _, c := range tok {
		if c < '0' || c > '9' {
			d.err = errMalformed
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// count is a list's length, bounded by what is left to read.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.buf)) {
		d.err = errMalformed
		return 0
	}
	return int(n)
}

func (d *decoder) strs() []string {
	var out []string
	for n := d.count(); n > 0; n-- {
		out = append(out, d.str())
	}
	return out
}
