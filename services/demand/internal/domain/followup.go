package domain

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
)

// A follow-up code (回执码) lets a resident claim a demand staff recorded for them. Twelve
// decimal digits: read out in Chinese or typed on a phone's number pad without confusion, and
// about 40 bits of chance, which with claims throttled (ClaimAttempts per ClaimWindow and
// caller) no one guesses.
const (
	// FollowUpCodeDigits is the length of a follow-up code.
	FollowUpCodeDigits = 12
	// ClaimAttempts is how many failed claims a caller may make within ClaimWindow; the next
	// is refused until the oldest of them is ClaimWindow old.
	ClaimAttempts = 5
	// ClaimWindow is the span over which a caller's failed claims are counted.
	ClaimWindow = 15 * time.Minute
)

// codeSpace is 10^FollowUpCodeDigits: codes are drawn uniformly below it.
var codeSpace = new(big.Int).Exp(big.NewInt(10), big.NewInt(FollowUpCodeDigits), nil)

// ErrBadFollowUpCode means a string that cannot be a follow-up code.
var ErrBadFollowUpCode = errors.New("a follow-up code is 12 digits, optionally grouped by spaces or hyphens")

// NewFollowUpCode draws a follow-up code, its twelve digits without grouping, uniformly from
// random (crypto/rand.Reader when nil).
func NewFollowUpCode(random io.Reader) (string, error) {
	if random == nil {
		random = rand.Reader
	}
	n, err := rand.Int(random, codeSpace)
	if err != nil {
		return "", fmt.Errorf("draw a follow-up code: %w", err)
	}
	return fmt.Sprintf("%0*s", FollowUpCodeDigits, n.String()), nil
}

// FormatFollowUpCode groups a code's digits by four, as it is printed and read out:
// "1234 5678 9012". Anything that is not a code's twelve digits is returned unchanged.
func FormatFollowUpCode(code string) string {
	if len(code) != FollowUpCodeDigits || strings.Trim(code, "0123456789") != "" {
		return code
	}
	return code[:4] + " " + code[4:8] + " " + code[8:]
}

// NormalizeFollowUpCode returns the twelve digits of a code as a resident types it: grouped or
// not, by spaces or hyphens, with full-width digits, spaces and hyphens (as Chinese input
// methods produce) read as their ASCII forms. Anything else is ErrBadFollowUpCode.
func NormalizeFollowUpCode(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
		case r == ' ' || r == '\u3000' || r == '-' || r == '－':
		default:
			return "", ErrBadFollowUpCode
		}
	}
	if b.Len() != FollowUpCodeDigits {
		return "", ErrBadFollowUpCode
	}
	return b.String(), nil
}
