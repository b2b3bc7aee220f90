// Package domain holds the partner service's rules: what a valid partner record is, who may
// move it along its lifecycle, and how well a partner fits a need.
package domain

import (
	"fmt"
	"strings"
)

// creditCodeAlphabet is the character set of the unified social credit code (GB 32100-2015):
// digits and capital letters without I, O, Z, S, V.
const creditCodeAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditCodeWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheckChar returns the check character for the first 17 characters of a unified
// social credit code.
func CreditCodeCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need 17 characters, got %d", len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCodeAlphabet, first17[i])
		if v < 0 {
			return 0, fmt.Errorf("character %q at position %d is not allowed", first17[i], i+1)
		}
		sum += v * creditCodeWeights[i]
	}
	return creditCodeAlphabet[(31-sum%31)%31], nil
}

// ValidateCreditCode checks an 18-character unified social credit code (统一社会信用代码),
// including its check character.
func ValidateCreditCode(code string) error {
	if len(code) != 18 {
		return fmt.Errorf("must be 18 characters, got %d", len(code))
	}
	want, err := CreditCodeCheckChar(code[:17])
	if err != nil {
		return err
	}
	if code[17] != want {
		return fmt.Errorf("check character is %q, expected %q", code[17], want)
	}
	return nil
}
