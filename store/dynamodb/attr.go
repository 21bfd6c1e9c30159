package dynamodb

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// item is one DynamoDB item.
type item = map[string]types.AttributeValue

func attrS(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func attrN(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// setS, setN, setB and setTime leave the attribute out for the zero value:
// absent reads back as zero, and there is one encoding of "none".
func setS(it item, name, v string) {
	if v != "" {
		it[name] = attrS(v)
	}
}

func setB(it item, name string, v []byte) {
	if len(v) > 0 {
		it[name] = &types.AttributeValueMemberB{Value: append([]byte(nil), v...)}
	}
}

func setTime(it item, name string, t time.Time) error {
	n, err := toNanos(t)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !t.IsZero() {
		it[name] = attrN(n)
	}
	return nil
}

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, name string) (int64, error) {
	v, ok := it[name]
	if !ok {
		return 0, nil
	}
	nv, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is %T, want a number", name, v)
	}
	n, err := strconv.ParseInt(nv.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: %w", name, err)
	}
	return n, nil
}

func getB(it item, name string) []byte {
	if v, ok := it[name].(*types.AttributeValueMemberB); ok && len(v.Value) > 0 {
		return v.Value
	}
	return nil
}

// getTime reads a time written by setTime: absent is the zero time.
func getTime(it item, name string) (time.Time, error) {
	if _, ok := it[name]; !ok {
		return time.Time{}, nil
	}
	n, err := getN(it, name)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, n).UTC(), nil
}

// decoder reads numbers and times from one item, keeping the first error,
// so that decoding a dozen attributes reads as a list.
type decoder struct {
	it  item
	err error
}

func (d *decoder) n(name string) int64 {
	v, err := getN(d.it, name)
	if d.err == nil {
		d.err = err
	}
	return v
}

func (d *decoder) time(name string) time.Time {
	v, err := getTime(d.it, name)
	if d.err == nil {
		d.err = err
	}
	return v
}

// toNanos returns t as Unix nanoseconds. Times are stored as integer
// nanoseconds (the storetest asks for milliseconds; this keeps what SQLite
// keeps), so a time outside what an int64 holds is refused rather than
// silently wrapped around.
func toNanos(t time.Time) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	// Unix nanoseconds in an int64 span the years 1678 to 2262.
	if t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return 0, fmt.Errorf("time %s is outside the years 1678 to 2262", t.UTC().Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// orderKey encodes (t, id) as a string whose byte order is the order of t,
// then of id: DynamoDB sorts string sort keys by their UTF-8 bytes, Go
// compares strings the same way. The time is fixed-width decimal, offset so
// that times before 1970 sort first; the zero time sorts before all.
func orderKey(t time.Time, id string) string {
	var u uint64
	if !t.IsZero() {
		n, _ := toNanos(t) // callers checked the range
		u = uint64(n) ^ (1 << 63)
	}
	return fmt.Sprintf("%020d#%s", u, id)
}

// shard spreads ids over n partitions, the same way in every process.
func shard(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}
