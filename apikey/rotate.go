package apikey

import "fmt"

// GenerateSecretFor returns a key with a new random secret for an existing
// key id: rotation keeps the id (and with it the key's history and limits)
// and replaces only the secret. An id that is not 12 characters of the id
// alphabet is refused, since the key it made would never parse.
func GenerateSecretFor(id string) (Key, error) {
	if !validID(id) {
		return Key{}, fmt.Errorf("apikey: rotate: %w", errID)
	}
	secret, err := generateSecret()
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, Secret: secret}, nil
}

func validID(id string) bool {
	if len(id) != IDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if idValue(id[i]) < 0 {
			return false
		}
	}
	return true
}
