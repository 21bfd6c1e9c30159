package dynamodb

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// pages is a pager over fixed pages, failing at failAt (-1: never).
type pages struct {
	items  [][]string
	next   int
	failAt int
}

func (p *pages) HasMorePages() bool { return p.next < len(p.items) }

func (p *pages) NextPage(context.Context, ...func(*dynamodb.Options)) ([]string, error) {
	if p.next == p.failAt {
		return nil, errors.New("throttled")
	}
	p.next++
	return p.items[p.next-1], nil
}

func TestEachItemVisitsEveryPageAndStopsAtTheFirstError(t *testing.T) {
	stop := errors.New("stop")
	for _, tc := range []struct {
		name    string
		failAt  int
		stopAt  string
		want    []string
		wantErr string
	}{
		{"every item of every page, empty pages included", -1, "", []string{"a", "b", "c", "d"}, ""},
		{"a page error ends it", 2, "", []string{"a", "b", "c"}, "throttled"},
		{"an item error ends it", -1, "b", []string{"a", "b"}, "stop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pages{items: [][]string{{"a", "b"}, {"c"}, {}, {"d"}}, failAt: tc.failAt}
			var got []string
			err := eachItem(context.Background(), p, func(page []string) []item {
				its := make([]item, len(page))
				for i, v := range page {
					its[i] = item{"v": attrS(v)}
				}
				return its
			}, func(it item) error {
				got = append(got, getS(it, "v"))
				if getS(it, "v") == tc.stopAt {
					return stop
				}
				return nil
			})
			if !slices.Equal(got, tc.want) || (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
				t.Fatalf("visited %v, error %v; want %v, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
