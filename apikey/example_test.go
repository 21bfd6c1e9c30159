package apikey_test

import (
	"fmt"

	"github.com/aigate/aigate/apikey"
)

// Creating a key shows the full key to its owner once and stores only its id
// and keyed hash; checking a presented key parses it (no store read for a
// malformed one), looks the id up and verifies the hash.
func Example() {
	hashKey, err := apikey.NewHashKey() // in production: from a secret store
	if err != nil {
		panic(err)
	}
	hasher, err := apikey.NewHasher(hashKey)
	if err != nil {
		panic(err)
	}

	full, k, err := apikey.Generate()
	if err != nil {
		panic(err)
	}
	stored := map[string][]byte{k.ID: hasher.Hash(k)} // the store: id -> hash
	// full is shown to the owner here, once, and never logged.

	presented, err := apikey.Parse(full)
	if err != nil {
		fmt.Println("401: malformed key")
		return
	}
	fmt.Println("valid:", hasher.Verify(presented, stored[presented.ID]))

	typo := full[:20] + "x" + full[21:]
	if full[20] == 'x' {
		typo = full[:20] + "y" + full[21:]
	}
	_, err = apikey.Parse(typo)
	fmt.Println(err != nil)
	// Output:
	// valid: true
	// true
}

// A Key prints redacted; only String gives the full key.
func ExampleKey_Format() {
	k := apikey.Key{ID: "abcdefghij23", Secret: "0123456789ABCDEFGHIJabcdefghijAB"}
	fmt.Println(k)
	fmt.Printf("%+v\n", k)
	fmt.Println(len(k.String()))
	// Output:
	// aig_abcdefghij23_[redacted]
	// aig_abcdefghij23_[redacted]
	// 55
}
