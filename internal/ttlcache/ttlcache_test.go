package ttlcache_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aigate/aigate/internal/ttlcache"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestEntryAnswersUntilItsExpiry(t *testing.T) {
	c := ttlcache.New[string, int](10)
	c.Put("a", 1, t0.Add(time.Minute))
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0, true},
		{t0.Add(time.Minute - 1), true},
		{t0.Add(time.Minute), false}, // expiry is exclusive
		{t0, false},                  // and an expired entry read once is gone
	} {
		if v, ok := c.Get("a", tc.at); ok != tc.want || (ok && v != 1) {
			t.Fatalf("Get at %v = %d, %v; want %v", tc.at, v, ok, tc.want)
		}
	}
	if c.Len() != 0 {
		t.Fatalf("Len = %d after the expired read", c.Len())
	}
}

func TestLeastRecentlyUsedIsEvictedFirst(t *testing.T) {
	c := ttlcache.New[string, int](3)
	later := t0.Add(time.Hour)
	c.Put("a", 1, later)
	c.Put("b", 2, later)
	c.Put("c", 3, later)
	c.Get("a", t0)        // a is now the most recent; b the least
	c.Put("c", 30, later) // rewriting refreshes too
	c.Put("d", 4, later)
	if _, ok := c.Get("b", t0); ok {
		t.Fatal("b survived; it was the least recently used")
	}
	for k, want := range map[string]int{"a": 1, "c": 30, "d": 4} {
		if v, ok := c.Get(k, t0); !ok || v != want {
			t.Errorf("Get(%s) = %d, %v; want %d", k, v, ok, want)
		}
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want the bound 3", c.Len())
	}
}

func TestRemoveForgetsOnlyThatKey(t *testing.T) {
	c := ttlcache.New[int, string](0) // taken as 1
	c.Put(1, "x", t0.Add(time.Hour))
	c.Remove(2)
	if _, ok := c.Get(1, t0); !ok {
		t.Fatal("Remove(2) removed 1")
	}
	c.Remove(1)
	if _, ok := c.Get(1, t0); ok || c.Len() != 0 {
		t.Fatalf("after Remove(1): present %v, Len %d", ok, c.Len())
	}
	c.Put(3, "y", t0.Add(time.Hour))
	c.Put(4, "z", t0.Add(time.Hour))
	if c.Len() != 1 {
		t.Fatalf("Len = %d, want the bound 1", c.Len())
	}
}

func TestConcurrentUseStaysBounded(t *testing.T) {
	c := ttlcache.New[string, int](16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint(g, "/", i%40)
				c.Put(k, i, t0.Add(time.Hour))
				c.Get(k, t0)
				if i%7 == 0 {
					c.Remove(k)
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 16 {
		t.Fatalf("Len = %d, above the bound", n)
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := ttlcache.New[string, *int](1000)
	v := 1
	c.Put("key", &v, t0.Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get("key", t0); !ok {
			b.Fatal("miss")
		}
	}
}
