// Package personal masks residents' personal data (name, phone, address) for callers whose
// role does not need it in full. Every service shows personal data through these functions, so
// a masked value looks the same everywhere: 张** · 138****5678 · 二桥西社区****.
package personal

import (
	"strings"
	"unicode/utf8"
)

// MaskName keeps the first character of a name and masks the rest, one * per character:
// "张三丰" → "张**". A one-character name is masked entirely.
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n <= 1 {
		return strings.Repeat("*", n)
	}
	first, _ := utf8.DecodeRuneInString(name)
	return string(first) + strings.Repeat("*", n-1)
}

// MaskPhone masks the middle digits of a phone number, keeping its punctuation:
//
//	13812345678     → 138****5678   (mobile: first 3 and last 4 digits kept)
//	+86 13812345678 → +86 138****5678
//	0771-5551234    → 0771-***1234  (landline: area code and last 4 digits kept)
//	5551234         → ***1234       (local number: last 4 digits kept)
//
// A number of 6 digits or fewer is masked entirely.
func MaskPhone(phone string) string {
	phone = strings.TrimSpace(phone)
	var digits []int // byte offsets of the ASCII digits in phone
	for i := 0; i < len(phone); i++ {
		if phone[i] >= '0' && phone[i] <= '9' {
			digits = append(digits, i)
		}
	}
	d := make([]byte, len(digits))
	for k, i := range digits {
		d[k] = phone[i]
	}
	n := len(d)
	head := 0 // leading digits kept
	tail := 4 // trailing digits kept
	switch {
	case n <= 6:
		tail = 0
	case n == 11 && d[0] == '1':
		head = 3
	case n == 13 && d[0] == '8' && d[1] == '6' && d[2] == '1':
		head = 5 // country code 86 and the mobile prefix
	case d[0] == '0':
		head = areaCodeLen(digits, d)
	}
	if head+tail >= n {
		// Too short to mask the middle; hide all but the tail rather than show everything.
		head = 0
	}
	out := []byte(phone)
	for k, i := range digits {
		if k >= head && k < n-tail {
			out[i] = '*'
		}
	}
	return string(out)
}

// areaCodeLen returns how many leading digits of a landline number are its area code: those
// before the first separator if there is one ("0771-…"), else 3 for 01x/02x and 4 otherwise.
func areaCodeLen(digits []int, d []byte) int {
	for k := 1; k < len(digits) && k <= 4; k++ {
		if digits[k] != digits[k-1]+1 {
			return k
		}
	}
	if d[1] == '1' || d[1] == '2' {
		return 3
	}
	return 4
}

// maxAddressKept bounds how much of an address is shown, so a long address without house
// numbers is still masked.
const maxAddressKept = 10

// MaskAddress keeps the first few characters of an address, up to the first digit (where house,
// building and room numbers start), at most 10 and at most half of them, and replaces the rest
// with a fixed "****" so the length is not revealed either:
//
//	二桥西社区5栋2单元301 → 二桥西社区****
func MaskAddress(addr string) string {
	addr = strings.TrimSpace(addr)
	runes := []rune(addr)
	if len(runes) == 0 {
		return ""
	}
	keep := min(maxAddressKept, len(runes)/2)
	for i, r := range runes[:keep] {
		if r >= '0' && r <= '9' || r >= '０' && r <= '９' {
			keep = i
			break
		}
	}
	return string(runes[:keep]) + "****"
}
