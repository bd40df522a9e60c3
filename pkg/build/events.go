package build

import "time"

// Event is one thing the build's progress says, for programs: what the
// plain progress prints as a line, typed. Options.Events receives them in
// order; the CLI's --progress=rawjson prints each as one JSON line.
type Event struct {
	Time time.Time `json:"time"`
	// Kind is "start" (a step or internal task began; Name says which),
	// "log" (a line of its output), "done", "cached", "error" (Error says
	// why), "canceled", "warning" (Vertex 0; Message says it) or
	// "progress" (Current of Total bytes of the step's work are done: the
	// compressed layers a root is unpacked from; at most ten a second per
	// step, and one when the step ends). A step that will count bytes
	// says their Total in its start.
	Kind EventKind `json:"kind"`
	// Vertex numbers the step as the plain progress does (#3); 0 for a
	// warning.
	Vertex int    `json:"vertex,omitempty"`
	Name   string `json:"name,omitempty"`
	// Message is a log line or a warning.
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
	// Seconds is how long the step took, for done and error.
	Seconds float64 `json:"seconds,omitempty"`
	// Current and Total are bytes, for progress (and Total for start).
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// EventKind says what an Event is.
type EventKind string

// The kinds of Event.
const (
	EventStart  EventKind = "start"
	EventLog    EventKind = "log"
	EventDone   EventKind = "done"
	EventCached EventKind = "cached"
	EventError  EventKind = "error"
	// EventCanceled ends a step the build's cancellation stopped.
	EventCanceled EventKind = "canceled"
	EventWarning  EventKind = "warning"
	EventProgress EventKind = "progress"
)
