// Package jwtauth verifies bearer JWTs from OpenID Connect identity
// providers and maps their claims to an *record.Principal, implementing
// authz.TokenVerifier. go-jose parses and verifies every token and key set;
// go-oidc does discovery, and each issuer's keys are an oidc.KeySet with a
// refresh policy of our own. It never hand-parses or hand-verifies a JOSE
// object, and never logs or returns a token.
//
// It must never accept a token it could not verify: every bad token yields an
// error wrapping authz.ErrInvalidCredential, and an identity provider outage
// with no cached keys yields an error that does not (the authorizer fails
// closed). Keys are fetched lazily, at most once per Config.RefreshInterval
// on unknown key ids, so a flood of forged tokens cannot cause a refetch storm.
//
// The order of checks on VerifyToken is cheapest first:
//
//  1. size (over 8 KiB is refused before any parsing);
//  2. the cache of verified tokens (SHA-256 of the token → principal);
//  3. compact JWS shape, header (alg allow-list, no "crit", no "b64");
//  4. unverified claims: a trusted "iss" picks the issuer, then "exp",
//     "nbf", "iat", audience, required claims, and the mapping to a
//     principal (a token without a principal id ends here);
//  5. the signature over exactly those claims, with that issuer's keys
//     only: the only step that may fetch keys.
package jwtauth
