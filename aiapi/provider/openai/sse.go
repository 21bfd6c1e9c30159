package openai

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxEventBytes bounds one server-sent event, so that an upstream that never
// ends a line cannot make us buffer without end.
const maxEventBytes = 8 << 20

// sseReader reads the data of server-sent events (the WHATWG event stream
// format): "data:" lines, joined by "\n", dispatched at a blank line.
// Comments and the other fields (event, id, retry) are skipped: OpenAI
// streams carry everything in data.
type sseReader struct {
	br   *bufio.Reader
	data []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 32<<10)}
}

var errEventTooLarge = fmt.Errorf("openai: server-sent event over %d bytes", maxEventBytes)

// next returns the data of the next event that has any; io.EOF at the end
// of the stream. A last event not followed by a blank line is still
// returned. The slice is valid until the next call.
func (r *sseReader) next() ([]byte, error) {
	r.data = r.data[:0]
	has := false
	for {
		line, err := r.line()
		if err != nil {
			if errors.Is(err, io.EOF) && has {
				return r.data, nil
			}
			return nil, err
		}
		if len(line) == 0 {
			if has {
				return r.data, nil
			}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(field) == 0 || string(field) != "data" {
			continue // a comment (":…") or another field
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if has {
			r.data = append(r.data, '\n')
		}
		if len(r.data)+len(value) > maxEventBytes {
			return nil, errEventTooLarge
		}
		r.data = append(r.data, value...)
		has = true
	}
}

// line returns the next line without its end (\n, \r\n or \r before \n).
func (r *sseReader) line() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A long line: gather it in a buffer of its own.
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > maxEventBytes {
				return nil, errEventTooLarge
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
