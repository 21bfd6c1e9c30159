package gateway

import (
	"fmt"
	"strings"
)

// template is a MOCK body with $context / $stageVariables references,
// parsed once.
type template struct {
	parts []tmplPart
}

type tmplPart struct {
	lit string
	ref *valueRef // nil: lit only
}

// parseTemplate finds $context.X, $context.authorizer.X, $context.authorizer
// and $stageVariables.X in s. Anything else, "$" included, is literal.
func parseTemplate(s string, httpAPI bool, hasAuthorizer bool) (template, error) {
	var t template
	lit := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		var prefix string
		switch {
		case strings.HasPrefix(s[i:], "$context."):
			prefix = "$context."
		case strings.HasPrefix(s[i:], "$stageVariables."):
			prefix = "$stageVariables."
		default:
			continue
		}
		end := i + len(prefix)
		for end < len(s) && isRefChar(s[end]) {
			end++
		}
		for end > i+len(prefix) && s[end-1] == '.' {
			end--
		}
		name := s[i+1 : end]
		var ref valueRef
		if name == "context.authorizer" {
			ref = valueRef{kind: refAuthorizerJSON}
		} else {
			var err error
			ref, err = parseRef("$"+name, refSyntax{httpAPI: true, authorizer: true})
			if err != nil {
				return template{}, fmt.Errorf("$%s: %v", name, err)
			}
			if ref.kind == refContext && contextVars[ref.name] && !httpAPI {
				return template{}, fmt.Errorf("$%s: HTTP APIs only", name)
			}
		}
		if (ref.kind == refAuthorizer || ref.kind == refAuthorizerJSON) && !hasAuthorizer {
			return template{}, fmt.Errorf("$%s: the route has no authorizer", name)
		}
		t.parts = append(t.parts, tmplPart{lit: s[lit:i], ref: &ref})
		lit = end
		i = end - 1
	}
	if lit < len(s) {
		t.parts = append(t.parts, tmplPart{lit: s[lit:]})
	}
	return t, nil
}

func isRefChar(c byte) bool {
	return c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// render appends the template's text for rq to dst. A missing value renders
// as nothing, as in a mapping template.
func (t template) render(dst []byte, rq *request) []byte {
	for _, p := range t.parts {
		dst = append(dst, p.lit...)
		if p.ref == nil {
			continue
		}
		if p.ref.kind == refAuthorizerJSON {
			dst = rq.appendAuthorizerJSON(dst)
			continue
		}
		if v, ok := rq.resolve(*p.ref); ok {
			dst = append(dst, v...)
		}
	}
	return dst
}
