package provider

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxEventBytes bounds one server-sent event, so that an upstream that
// never ends a line cannot make the reader buffer without end.
const MaxEventBytes = 8 << 20

// ErrEventTooLarge is returned for an event over MaxEventBytes.
var ErrEventTooLarge = fmt.Errorf("provider: server-sent event over %d bytes", MaxEventBytes)

// EventReader reads server-sent events (the WHATWG event stream format) as
// every upstream protocol sends them: an optional "event:" line naming the
// type (the Responses and Messages APIs), "data:" lines joined by "\n",
// dispatched at a blank line (chat completions carry everything in data).
// Comments and the id and retry fields are skipped. The one reader of
// upstream streams: the providers and the AI API's pass-through use it.
type EventReader struct {
	br   *bufio.Reader
	name []byte
	data []byte
}

// NewEventReader reads events from r.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{br: bufio.NewReaderSize(r, 32<<10)}
}

// Next returns the type and data of the next event that has data; io.EOF
// at the end of the stream (a last event not followed by a blank line is
// still returned). The type is the event: field, or "" when there was
// none (the data's "type" member says it too). data is valid until the
// next call.
func (r *EventReader) Next() (eventType string, data []byte, err error) {
	r.name, r.data = r.name[:0], r.data[:0]
	has := false
	for {
		line, err := r.line()
		if err != nil {
			if errors.Is(err, io.EOF) && has {
				return string(r.name), r.data, nil
			}
			return "", nil, err
		}
		if len(line) == 0 {
			if has {
				return string(r.name), r.data, nil
			}
			r.name = r.name[:0] // an event without data is dispatched as nothing
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			r.name = append(r.name[:0], value...)
		case "data":
			if has {
				r.data = append(r.data, '\n')
			}
			if len(r.data)+len(value) > MaxEventBytes {
				return "", nil, ErrEventTooLarge
			}
			r.data = append(r.data, value...)
			has = true
		}
	}
}

// line returns the next line without its end (\n, \r\n).
func (r *EventReader) line() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A long line: gather it in a buffer of its own.
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > MaxEventBytes {
				return nil, ErrEventTooLarge
			}
			line, err = r.br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, nil
}
