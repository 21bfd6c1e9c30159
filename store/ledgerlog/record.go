// Package ledgerlog is the append-only log of quota ledger changes that the
// process owning an SQLite store (store/sqlite.Owner) writes before it
// answers, and that the store applies to the database in batches. It owns
// the record format and the file; it knows nothing of SQL or of limits,
// and must never decide anything: a record says what was decided.
//
// A record is framed as its body's length (uint32, little endian), the
// CRC-32C of the body (uint32), then the body: the sequence number, the
// operation and its fields, as varints and length-prefixed strings. A
// reader stops at the first frame that is incomplete (a write torn by a
// crash) or whose checksum or sequence number is wrong, and the file is cut
// there: nothing after a bad frame can be trusted to follow it.
package ledgerlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Op is what a record does to the ledger.
type Op uint8

// The operations, one per quota.Reservations method that changes state.
const (
	OpReserve Op = 1 + iota // Reservation is now pending, counted in its windows
	OpSettle                // Reservation settled with Usage (Late: it was not pending)
	OpRelease               // Reservation released: its tokens and dollars given back
	OpExtend                // Reservation.ID's expiry moved to Reservation.ExpiresAt
	OpExpire                // Expired released at Now, and windows ended long before Now pruned
)

func (o Op) String() string {
	switch o {
	case OpReserve:
		return "reserve"
	case OpSettle:
		return "settle"
	case OpRelease:
		return "release"
	case OpExtend:
		return "extend"
	case OpExpire:
		return "expire"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Reservation is a reservation as the ledger counts it. Times are Unix
// nanoseconds (the store's representation), window starts included.
type Reservation struct {
	ID, PrincipalID, Tenant, Model, Protocol string
	Tokens, CostMicros                       int64
	// TenantWindows says it counts in its tenant's windows too.
	TenantWindows        bool
	Minute, Day, Month   int64
	CreatedAt, ExpiresAt int64
}

// Usage is what a settlement records.
type Usage struct {
	Prompt, Completion, Cached, CacheWrite int64
	CostMicros                             int64
	// Price, micro-dollars per 1M tokens: input, output, cache read,
	// cache write.
	PriceInput, PriceOutput, PriceCachedInput, PriceCacheWrite int64
	Unpriced                                                   bool
	At                                                         int64
	// Late: the reservation was no longer pending; all of the usage is
	// added to its windows.
	Late bool
}

// Record is one change to the ledger.
type Record struct {
	// Seq numbers records from 1 without gaps, across truncations of the
	// file: the store keeps the last one applied.
	Seq         uint64
	Op          Op
	Reservation Reservation   // OpReserve, OpSettle, OpRelease; OpExtend: ID and ExpiresAt only
	Usage       Usage         // OpSettle
	Expired     []Reservation // OpExpire
	Now         int64         // OpExpire
}

// frameHeader is the length and checksum before each body.
const frameHeader = 8

// MaxBody bounds a record's body, so that a corrupt length cannot make a
// reader allocate without limit. An expiry of many reservations is the
// largest record: ~100 bytes each.
const MaxBody = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of Decode.
var (
	// ErrTorn: b ends inside a frame.
	ErrTorn = errors.New("ledgerlog: torn record")
	// ErrCorrupt: the frame is whole but its checksum or body is wrong.
	ErrCorrupt = errors.New("ledgerlog: corrupt record")
)

// Append appends r's frame to dst.
func Append(dst []byte, r *Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeader)...)
	dst = binary.AppendUvarint(dst, r.Seq)
	dst = append(dst, byte(r.Op))
	switch r.Op {
	case OpReserve, OpRelease:
		dst = appendReservation(dst, &r.Reservation)
	case OpSettle:
		dst = appendReservation(dst, &r.Reservation)
		u := &r.Usage
		for _, v := range []int64{u.Prompt, u.Completion, u.Cached, u.CacheWrite, u.CostMicros,
			u.PriceInput, u.PriceOutput, u.PriceCachedInput, u.PriceCacheWrite, u.At} {
			dst = binary.AppendVarint(dst, v)
		}
		dst = appendBool(dst, u.Unpriced)
		dst = appendBool(dst, u.Late)
	case OpExtend:
		dst = appendString(dst, r.Reservation.ID)
		dst = binary.AppendVarint(dst, r.Reservation.ExpiresAt)
	case OpExpire:
		dst = binary.AppendVarint(dst, r.Now)
		dst = binary.AppendUvarint(dst, uint64(len(r.Expired)))
		for i := range r.Expired {
			dst = appendReservation(dst, &r.Expired[i])
		}
	}
	body := dst[start+frameHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

func appendReservation(dst []byte, r *Reservation) []byte {
	for _, s := range []string{r.ID, r.PrincipalID, r.Tenant, r.Model, r.Protocol} {
		dst = appendString(dst, s)
	}
	for _, v := range []int64{r.Tokens, r.CostMicros, r.Minute, r.Day, r.Month, r.CreatedAt, r.ExpiresAt} {
		dst = binary.AppendVarint(dst, v)
	}
	return appendBool(dst, r.TenantWindows)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// Decode reads the frame at the start of b: the record and the frame's
// length, or ErrTorn when b ends inside it, or ErrCorrupt.
func Decode(b []byte) (Record, int, error) {
	if len(b) < frameHeader {
		return Record{}, 0, ErrTorn
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > MaxBody {
		return Record{}, 0, fmt.Errorf("%w: body length %d", ErrCorrupt, n)
	}
	if uint64(len(b)-frameHeader) < uint64(n) {
		return Record{}, 0, ErrTorn
	}
	body := b[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return Record{}, 0, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	d := decoder{b: body}
	var r Record
	r.Seq = d.uvarint()
	r.Op = Op(d.byte())
	switch r.Op {
	case OpReserve, OpRelease:
		d.reservation(&r.Reservation)
	case OpSettle:
		d.reservation(&r.Reservation)
		u := &r.Usage
		for _, v := range []*int64{&u.Prompt, &u.Completion, &u.Cached, &u.CacheWrite, &u.CostMicros,
			&u.PriceInput, &u.PriceOutput, &u.PriceCachedInput, &u.PriceCacheWrite, &u.At} {
			*v = d.varint()
		}
		u.Unpriced = d.bool()
		u.Late = d.bool()
	case OpExtend:
		r.Reservation.ID = d.string()
		r.Reservation.ExpiresAt = d.varint()
	case OpExpire:
		r.Now = d.varint()
		count := d.uvarint()
		// Each reservation takes at least 13 bytes: a bound on the count
		// before anything is allocated for it.
		if count > uint64(len(d.b))/13 {
			d.fail("expired count")
			break
		}
		if count > 0 {
			r.Expired = make([]Reservation, count)
		}
		for i := range r.Expired {
			d.reservation(&r.Expired[i])
		}
	default:
		d.fail("unknown operation")
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Record{}, 0, fmt.Errorf("%w: %s", ErrCorrupt, d.err)
	}
	return r, frameHeader + int(n), nil
}

// decoder reads a body; its first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New(what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail("short body")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad bool")
	return false
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("short string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) reservation(r *Reservation) {
	for _, s := range []*string{&r.ID, &r.PrincipalID, &r.Tenant, &r.Model, &r.Protocol} {
		*s = d.string()
	}
	for _, v := range []*int64{&r.Tokens, &r.CostMicros, &r.Minute, &r.Day, &r.Month, &r.CreatedAt, &r.ExpiresAt} {
		*v = d.varint()
	}
	r.TenantWindows = d.bool()
}
