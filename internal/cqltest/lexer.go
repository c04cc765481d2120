package cqltest

import (
	"strings"
)

// tokKind classifies a CQL token.
type tokKind int

const (
	tEOF    tokKind = iota
	tIdent          // unquoted identifier or keyword, lower-cased
	tQIdent         // "quoted" identifier, case kept
	tString         // 'string' or $$string$$ literal, unescaped
	tInt            // integer literal
	tFloat          // floating point literal
	tUUID           // uuid literal
	tHex            // 0x blob literal, the digits after 0x
	tMarker         // ? bind marker
	tNamed          // :name bind marker, the name
	tPunct          // punctuation, in text
)

// token is one lexical token of a statement.
type token struct {
	kind tokKind
	text string
	pos  int
}

// lex splits a statement into tokens. Comments (--, //, /* */) are skipped.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && strings.HasPrefix(src[i:], "--"), c == '/' && strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, syntaxErr("unterminated comment at character %d", i)
			}
			i += end + 4
		case c == '\'':
			s, n, err := lexQuoted(src, i, '\'')
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, s, i})
			i += n
		case c == '"':
			s, n, err := lexQuoted(src, i, '"')
			if err != nil {
				return nil, err
			}
			if s == "" {
				return nil, syntaxErr("empty quoted identifier at character %d", i)
			}
			toks = append(toks, token{tQIdent, s, i})
			i += n
		case c == '$' && strings.HasPrefix(src[i:], "$$"):
			end := strings.Index(src[i+2:], "$$")
			if end < 0 {
				return nil, syntaxErr("unterminated $$ string at character %d", i)
			}
			toks = append(toks, token{tString, src[i+2 : i+2+end], i})
			i += end + 4
		case isUUIDAt(src, i):
			toks = append(toks, token{tUUID, strings.ToLower(src[i : i+36]), i})
			i += 36
		case c == '0' && i+1 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X'):
			j := i + 2
			for j < len(src) && isHex(src[j]) {
				j++
			}
			toks = append(toks, token{tHex, src[i+2 : j], i})
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			t, n := lexNumber(src, i)
			toks = append(toks, t)
			i += n
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, strings.ToLower(src[i:j]), i})
			i = j
		case c == '?':
			toks = append(toks, token{tMarker, "?", i})
			i++
		case c == ':' && i+1 < len(src) && isIdentStart(src[i+1]):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			toks = append(toks, token{tNamed, strings.ToLower(src[i+1 : j]), i})
			i = j
		default:
			for _, p := range []string{"<=", ">=", "!=", "(", ")", ",", ";", ".", "=", "<", ">", "*", "[", "]", "{", "}", ":", "+", "-"} {
				if strings.HasPrefix(src[i:], p) {
					toks = append(toks, token{tPunct, p, i})
					i += len(p)
					goto next
				}
			}
			return nil, syntaxErr("unexpected character %q at character %d", c, i)
		next:
		}
	}
	return append(toks, token{tEOF, "", len(src)}), nil
}

// lexQuoted reads a literal quoted by q, where a doubled q stands for itself.
func lexQuoted(src string, i int, q byte) (string, int, error) {
	var sb strings.Builder
	j := i + 1
	for {
		if j >= len(src) {
			return "", 0, syntaxErr("unterminated quoted text at character %d", i)
		}
		if src[j] == q {
			if j+1 < len(src) && src[j+1] == q {
				sb.WriteByte(q)
				j += 2
				continue
			}
			return sb.String(), j + 1 - i, nil
		}
		sb.WriteByte(src[j])
		j++
	}
}

func lexNumber(src string, i int) (token, int) {
	j := i
	float := false
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	if j < len(src) && src[j] == '.' && j+1 < len(src) && isDigit(src[j+1]) {
		float = true
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			float = true
			j = k
			for j < len(src) && isDigit(src[j]) {
				j++
			}
		}
	}
	kind := tInt
	if float {
		kind = tFloat
	}
	return token{kind, src[i:j], i}, j - i
}

// isUUIDAt reports whether a UUID literal (8-4-4-4-12 hex digits) starts at i
// and is not followed by an identifier character.
func isUUIDAt(src string, i int) bool {
	if len(src)-i < 36 || (i > 0 && isIdentPart(src[i-1])) {
		return false
	}
	for k := 0; k < 36; k++ {
		c := src[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return false
			}
		} else if !isHex(c) {
			return false
		}
	}
	return len(src) == i+36 || !isIdentPart(src[i+36])
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isHex(c byte) bool        { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }
func isIdentStart(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
