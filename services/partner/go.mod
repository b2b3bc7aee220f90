module github.com/jiayuan/jiayuan/services/partner

go 1.26.0

require (
	github.com/jiayuan/jiayuan/gen v0.0.0
	github.com/jiayuan/jiayuan/platform v0.0.0
)

replace (
	github.com/jiayuan/jiayuan/gen => ../../gen
	github.com/jiayuan/jiayuan/platform => ../../platform
)
