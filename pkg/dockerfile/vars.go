package dockerfile

import "strings"

// Vars is an ordered set of variables as ENV and ARG build them up: setting a
// key that is already present replaces its value in place, so Environ keeps
// the order in which keys first appeared. The zero value is empty and ready.
type Vars struct {
	keys []string
	vals map[string]string
	// size is what keys and values take together.
	size int
}

// VarsFromEnviron reads "KEY=VALUE" entries, such as an image's Env. An entry
// without "=" sets the key to the empty string.
func VarsFromEnviron(env []string) *Vars {
	v := &Vars{}
	for _, kv := range env {
		k, val, _ := strings.Cut(kv, "=")
		v.Set(k, val)
	}
	return v
}

// Set gives key the value val.
func (v *Vars) Set(key, val string) {
	if v.vals == nil {
		v.vals = map[string]string{}
	}
	if old, ok := v.vals[key]; ok {
		v.size -= len(old)
	} else {
		v.keys = append(v.keys, key)
		v.size += len(key)
	}
	v.vals[key] = val
	v.size += len(val)
}

// Size returns what the keys and values take together, in bytes.
func (v *Vars) Size() int {
	if v == nil {
		return 0
	}
	return v.size
}

// Get returns the value of key and whether it is set.
func (v *Vars) Get(key string) (string, bool) {
	if v == nil {
		return "", false
	}
	val, ok := v.vals[key]
	return val, ok
}

// Keys returns the keys in the order they were first set.
func (v *Vars) Keys() []string {
	if v == nil {
		return nil
	}
	return append([]string(nil), v.keys...)
}

// Len returns the number of variables.
func (v *Vars) Len() int {
	if v == nil {
		return 0
	}
	return len(v.keys)
}

// Clone returns an independent copy.
func (v *Vars) Clone() *Vars {
	c := &Vars{}
	if v == nil {
		return c
	}
	for _, k := range v.keys {
		c.Set(k, v.vals[k])
	}
	return c
}

// Environ returns the variables as "KEY=VALUE" entries, in order.
func (v *Vars) Environ() []string {
	if v == nil {
		return nil
	}
	out := make([]string, 0, len(v.keys))
	for _, k := range v.keys {
		out = append(out, k+"="+v.vals[k])
	}
	return out
}
