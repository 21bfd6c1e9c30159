package authz_test

import (
	"context"
	"fmt"

	"github.com/aigate/aigate/apikey"
	"github.com/aigate/aigate/authz"
	"github.com/aigate/aigate/record"
)

func ExampleLooksLikeJWT() {
	fmt.Println(authz.LooksLikeJWT("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"))
	fmt.Println(authz.LooksLikeJWT("aig_abcdefghijkl_secret"))
	// Output:
	// true
	// false
}

type oneKey struct{ k *record.Key }

func (s oneKey) GetKey(_ context.Context, id string) (*record.Key, error) {
	if id != s.k.ID {
		return nil, record.ErrNotFound
	}
	return s.k, nil
}

func ExampleAuthorizer_Decide() {
	hashKey, _ := apikey.NewHashKey()
	hasher, _ := apikey.NewHasher(hashKey)
	full, k, _ := apikey.Generate()
	stored := &record.Key{ID: k.ID, Name: "ci", Models: []string{"gpt-4o*"}, Status: record.StatusActive, SecretHash: hasher.Hash(k)}

	a, _ := authz.New(authz.Config{Keys: oneKey{stored}, Hasher: hasher})
	d, _ := a.Decide(context.Background(), full)
	fmt.Println(d.Outcome, d.Scope[:3], d.Context["models"])
	d, _ = a.Decide(context.Background(), "aig_not_a_key")
	fmt.Println(d.Outcome)
	// Output:
	// allow [POST/v1/chat/completions POST/v1/embeddings GET/v1/models] ["gpt-4o*"]
	// unauthorized
}
