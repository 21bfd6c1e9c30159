package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aigate/aigate/quota"
	"github.com/aigate/aigate/store"
)

var (
	_ store.Store  = (*Store)(nil)
	_ quota.Ledger = (*Store)(nil)
)

// Config says which tables to use and how to reach DynamoDB.
type Config struct {
	// Prefix is prepended to every table name ("aigate-prod-" gives
	// "aigate-prod-keys", ...). Empty: the bare names. Letters, digits,
	// '_', '-' and '.' only, as DynamoDB allows in table names.
	Prefix string
	// Region is the AWS region. Empty: AWS_REGION (or the shared config),
	// and for a loopback Endpoint "us-east-1", which dynalite ignores.
	Region string
	// Endpoint overrides the service URL, for dynalite or DynamoDB Local
	// ("http://127.0.0.1:8000"). Empty: the region's DynamoDB endpoint.
	//
	// A loopback endpoint with no AWS_ACCESS_KEY_ID in the environment gets
	// static dummy credentials (dynalite does not check signatures) and the
	// EC2 metadata service is never asked, so that a local run sends nothing
	// off the machine. Any other endpoint uses the SDK's default credential
	// chain: the execution role's variables in a Lambda.
	Endpoint string
	// Logger receives the failures of best-effort writes (a key event's
	// copy after its commit), which change no answer. Nil: slog.Default().
	Logger *slog.Logger
}

// validPrefix reports whether a table-name prefix is at most 200 of the
// characters DynamoDB table names may hold ([a-zA-Z0-9_.-]{3,255}; every
// suffix here is at least 3 characters). A loop, not a regexp: compiling
// `{0,200}` at package init cost every Lambda cold start 2,600 allocations.
func validPrefix(p string) bool {
	if len(p) > 200 {
		return false
	}
	for _, c := range []byte(p) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// ParseURL reads a store URL:
//
//	dynamodb://PREFIX[?region=REGION][&endpoint=URL]
//
// for example "dynamodb://aigate-prod-?region=eu-west-1" on AWS, or
// "dynamodb://dev_?endpoint=http://127.0.0.1:4567" against dynalite. The
// endpoint may be given percent-encoded or as it is.
func ParseURL(raw string) (Config, error) {
	rest, ok := strings.CutPrefix(raw, "dynamodb:")
	if !ok {
		return Config{}, fmt.Errorf("dynamodb: store URL %q does not start with dynamodb://", raw)
	}
	rest = strings.TrimPrefix(rest, "//")
	prefix, query, _ := strings.Cut(rest, "?")
	c := Config{Prefix: prefix}
	if !validPrefix(prefix) {
		return Config{}, fmt.Errorf("dynamodb: table prefix %q: want at most 200 letters, digits, '_', '-' or '.'", prefix)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Config{}, fmt.Errorf("dynamodb: store URL query: %w", err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return Config{}, fmt.Errorf("dynamodb: store URL: %s given %d times", name, len(vals))
		}
		switch name {
		case "region":
			c.Region = vals[0]
		case "endpoint":
			c.Endpoint = vals[0]
		default:
			// A typo ("regoin") must not silently select another region.
			return Config{}, fmt.Errorf("dynamodb: store URL: unknown parameter %q (want region, endpoint)", name)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("dynamodb: endpoint %q is not an http(s) URL", c.Endpoint)
		}
	}
	return c, nil
}

// String is the store URL of c, which ParseURL reads back.
func (c Config) String() string {
	q := url.Values{}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	if c.Endpoint != "" {
		q.Set("endpoint", c.Endpoint)
	}
	s := "dynamodb://" + c.Prefix
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// localEndpoint reports whether the endpoint is on this machine.
func (c Config) localEndpoint() bool {
	if c.Endpoint == "" {
		return false
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Store is aigate's store on DynamoDB. It is safe for concurrent use; its
// only state is the SDK client, built once by Open and reused by every
// call, so a Lambda builds it at init and never on the request path.
type Store struct {
	client *dynamodb.Client
	t      tables
	logger *slog.Logger
}

// OpenURL opens the store a dynamodb:// URL names (see ParseURL).
func OpenURL(ctx context.Context, raw string) (*Store, error) {
	c, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return Open(ctx, c)
}

// Open builds the SDK client for c. It sends no request: a missing table or
// an unreachable endpoint shows on the first call (and `aigate store init`
// creates the tables), so that a Lambda's cold start pays for no round
// trip it does not need.
func Open(ctx context.Context, c Config) (*Store, error) {
	if !validPrefix(c.Prefix) {
		return nil, fmt.Errorf("dynamodb: table prefix %q: want at most 200 letters, digits, '_', '-' or '.'", c.Prefix)
	}
	// The SDK keeps 10 idle connections per host by default; a busy AI API
	// (or the 64-goroutine test) would open and close connections beyond
	// that on every burst. Still a BuildableClient, so that the SDK can
	// apply AWS_CA_BUNDLE to it.
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 128
	})
	local := c.localEndpoint()
	cfg, err := loadAWSConfig(ctx, c.Region, local, hc)
	if err != nil {
		return nil, fmt.Errorf("dynamodb: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		if !local {
			return nil, errors.New("dynamodb: no region: add region= to the store URL or set AWS_REGION")
		}
		cfg.Region = "us-east-1"
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
	s := New(client, c.Prefix)
	if c.Logger != nil {
		s.logger = c.Logger
	}
	return s, nil
}

// New returns a store over an SDK client the caller built, with tables
// named by prefix. The caller must have checked the prefix.
func New(client *dynamodb.Client, prefix string) *Store {
	return &Store{client: client, t: tableNames(prefix), logger: slog.Default()}
}

// Close does nothing: the store holds no resource but pooled HTTP
// connections, which close themselves when idle.
func (s *Store) Close() error { return nil }

// conditionFailed reports whether err is a failed condition expression:
// the expected outcome of a lost race, never a fault.
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// commitTimeout bounds the steps that follow a commit point.
const commitTimeout = 10 * time.Second

// afterCommit returns the context for the steps that follow a commit point
// (copying an event, adjusting counters, deleting a settled reservation):
// they must not be abandoned because the caller's context ends — a client
// hanging up mid-settlement — yet must not hang forever either.
func afterCommit(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
}
