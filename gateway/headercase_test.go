package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
)

// rawExchange writes raw to a new connection to srv and reads n responses,
// returning each one's header block as sent.
func rawExchange(t *testing.T, srv, raw string, n int) []string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var heads []string
	for range n {
		var head strings.Builder
		tp := textproto.NewReader(br)
		for {
			line, err := tp.ReadLine()
			if err != nil {
				t.Fatalf("read response: %v (so far %q)", err, head.String())
			}
			if line == "" {
				break
			}
			head.WriteString(line + "\n")
		}
		// Bodies here are short and carry Content-Length.
		h := head.String()
		var cl int
		for line := range strings.SplitSeq(h, "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, "Content-Length") {
				json.Unmarshal([]byte(v), &cl)
			}
		}
		if _, err := br.Discard(cl); err != nil {
			t.Fatal(err)
		}
		heads = append(heads, h)
	}
	return heads
}

func TestResponseHeadersAreSpeltAsAWSOnTheWire(t *testing.T) {
	auth := &thirdParty{outputs: map[string]string{"allow": policyOutput(allowAll, ""), "chalice-deny": policyOutput(`{"Action":"execute-api:Invoke","Effect":"Allow","Resource":[]}`, "")}}
	srv := servePreservingCase(t, fidelityConfig(func(n string) string { return "function: " + n }),
		Options{Logger: discardLogger(), Functions: map[string]Invoker{"auth": auth, "api": &recorder{}}})
	heads := rawExchange(t, srv, "GET /r/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer allow\r\n\r\n"+
		"GET /r/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer chalice-deny\r\n\r\n"+
		"GET /h/i/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer allow\r\n\r\n", 3)
	for i, want := range [][]string{
		{"\nx-amzn-RequestId: ", "\nx-amz-apigw-id: "},
		{"\nx-amzn-RequestId: ", "\nx-amz-apigw-id: ", "\nx-amzn-ErrorType: AccessDeniedException\n"},
		{"\napigw-requestid: "},
	} {
		for _, w := range want {
			if !strings.Contains(heads[i], w) {
				t.Errorf("response %d lacks %q:\n%s", i, strings.TrimSpace(w), heads[i])
			}
		}
	}
}

// TestHeaderSpellingHoldsOverKeepAliveAndPipelining sends pipelined
// requests on one connection, with bodies (Content-Length and chunked, with
// a trailer) that look like requests, and checks that each proxy event has
// its own request's spelling.
func TestHeaderSpellingHoldsOverKeepAliveAndPipelining(t *testing.T) {
	auth := &thirdParty{outputs: map[string]string{"allow": policyOutput(allowAll, "")}}
	api := &recorder{}
	srv := servePreservingCase(t, fidelityConfig(func(n string) string { return "function: " + n }),
		Options{Logger: discardLogger(), Functions: map[string]Invoker{"auth": auth, "api": api}})
	fake := "GET /r/x HTTP/1.1\r\nx-smuggled: 1\r\n\r\n"
	// The fake request split over two chunks, with an extension and a
	// trailer.
	rest := fake[0x15:]
	chunk := "15\r\n" + fake[:0x15] + "\r\n" + strconv.FormatInt(int64(len(rest)), 16) + ";ext=1\r\n" + rest + "\r\n0\r\nx-trailer: t\r\n\r\n"
	raw := "POST /r/a HTTP/1.1\r\nHost: a\r\nauthorization: Bearer allow\r\nx-api-key: one\r\nContent-Length: " + strconv.Itoa(len(fake)) + "\r\n\r\n" + fake +
		"POST /r/b HTTP/1.1\r\nHost: a\r\nAUTHORIZATION: Bearer allow\r\nX-API-KEY: two\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
		"GET /r/c HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer allow\r\nx-Api-KEY: three\r\nx-api-key: again\r\n\r\n" +
		"GET /r/a HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer allow\r\nHeaderAuth1: four\r\n\r\n"
	heads := rawExchange(t, srv, raw, 4)
	for i, h := range heads {
		if !strings.HasPrefix(h, "HTTP/1.1 200") {
			t.Fatalf("response %d: %s", i, h)
		}
	}
	want := []struct {
		path string
		has  []string
		not  []string
	}{
		{"/r/a", []string{"authorization", "x-api-key"}, []string{"x-smuggled", "Authorization"}},
		{"/r/b", []string{"AUTHORIZATION", "X-API-KEY"}, []string{"x-smuggled", "x-trailer", "x-api-key"}},
		{"/r/c", []string{"Authorization", "x-Api-KEY"}, []string{"x-api-key"}},
		{"/r/a", []string{"Authorization", "HeaderAuth1"}, []string{"x-api-key"}},
	}
	if len(api.events) != len(want) {
		t.Fatalf("%d proxy events, want %d", len(api.events), len(want))
	}
	for i, w := range want {
		ev := loadJSON(t, api.events[i])
		if ev["path"] != w.path {
			t.Errorf("event %d is for %v, want %s", i, ev["path"], w.path)
		}
		h := ev["multiValueHeaders"].(map[string]any)
		for _, k := range w.has {
			if _, ok := h[k]; !ok {
				t.Errorf("event %d (%s) has no %q: %v", i, w.path, k, h)
			}
		}
		for _, k := range w.not {
			if _, ok := h[k]; ok {
				t.Errorf("event %d (%s) has %q: %v", i, w.path, k, h)
			}
		}
	}
	// Two spellings of one name: the first wins, both values are kept.
	third := loadJSON(t, api.events[2])["multiValueHeaders"].(map[string]any)
	if !jsonEqual(third["x-Api-KEY"], []string{"three", "again"}) {
		t.Errorf("x-Api-KEY = %v", third["x-Api-KEY"])
	}
}

// TestHeaderRecorderGivesUpOnWhatItCannotParse: bytes that are not HTTP/1.x
// (TLS, HTTP/2's preface, a broken framing) stop the recording, and the
// gateway falls back to Go's canonical names instead of guessing.
func TestHeaderRecorderGivesUpOnWhatItCannotParse(t *testing.T) {
	get := func(target string) *http.Request {
		r, _ := http.NewRequest("GET", "http://a"+target, nil)
		r.RequestURI = target
		r.Header = http.Header{"X-Api-Key": {"k"}}
		return r
	}
	for name, stream := range map[string]string{
		"TLS client hello":          "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 /x HTTP/1.1\r\nx-api-key: k\r\n\r\nGET /x HTTP/1.1\r\nx-api-key: k\r\n\r\n",
		"HTTP/2 preface":            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nGET /x HTTP/1.1\r\nx-api-key: k\r\n\r\n",
		"two Content-Length values": "POST /y HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nGGET /x HTTP/1.1\r\nx-api-key: k\r\n\r\n",
		"unknown transfer coding":   "POST /y HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nGET /x HTTP/1.1\r\nx-api-key: k\r\n\r\n",
		"bad chunk size":            "POST /y HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /x HTTP/1.1\r\nx-api-key: k\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			var rec headerRecorder
			// Byte by byte, as the worst split of reads.
			for i := range len(stream) {
				rec.feed([]byte{stream[i]})
			}
			if names := rec.take(get("/x")); names != nil {
				t.Fatalf("took %q from a stream it could not parse", names)
			}
		})
	}
	var rec headerRecorder
	rec.feed([]byte("GET /x HTTP/1.1\r\nx-api-key: k\r\n\r\n"))
	if names := rec.take(get("/x")); !bytes.Equal([]byte(strings.Join(names, ",")), []byte("x-api-key")) {
		t.Fatalf("took %q, want x-api-key", names)
	}
}

// TestRESTHTTPProxyForwardsTheClientsSpelling: the upstream of a REST
// HTTP_PROXY integration gets the header names as the client wrote them.
func TestRESTHTTPProxyForwardsTheClientsSpelling(t *testing.T) {
	got := make(chan []string, 1)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- takeHeaderNames(r) // the upstream records what came on its wire
	}))
	up.Listener = PreserveHeaderCase(up.Listener)
	up.Start()
	t.Cleanup(up.Close)
	cfg := `
apis:
  - name: rest
    routes:
      - {route: "GET /p", integration: {type: HTTP_PROXY, uri: "` + up.URL + `/p"}}
`
	srv := servePreservingCase(t, cfg, Options{Logger: discardLogger()})
	r := doRaw(t, "GET", srv+"/p", map[string]string{"x-api-key": "k", "HeaderAuth1": "h"}, "", false)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	names := strings.Join(<-got, ",")
	for _, want := range []string{"x-api-key", "HeaderAuth1"} {
		if !strings.Contains(names, want) {
			t.Errorf("upstream got header names %s, want %s among them", names, want)
		}
	}
}
