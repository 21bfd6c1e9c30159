package provider

import "strings"

// Sanitize makes an upstream's error message fit for the caller: at most
// 512 bytes of valid UTF-8, without the upstream's key, base URL or host,
// naming the caller's model instead of the upstream's. Every provider's
// errors go through it, so no provider can leak what another would not.
func Sanitize(msg, key, baseURL, upstreamModel, responseModel string) string {
	if len(msg) > 512 {
		msg = msg[:512]
	}
	base := strings.TrimSuffix(baseURL, "/")
	for _, secret := range []string{key, base, hostOf(base)} {
		if len(secret) >= 4 {
			msg = strings.ReplaceAll(msg, secret, "[upstream]")
		}
	}
	if upstreamModel != "" && upstreamModel != responseModel {
		msg = strings.ReplaceAll(msg, upstreamModel, responseModel)
	}
	return strings.ToValidUTF8(msg, "")
}

// ScrubKey removes key from s, for causes that are logged.
func ScrubKey(s, key string) string {
	if len(key) < 4 {
		return s
	}
	return strings.ReplaceAll(s, key, "[key]")
}

func hostOf(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	return host
}
