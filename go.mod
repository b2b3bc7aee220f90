module github.com/jiayuan/jiayuan

go 1.26.0

require (
	github.com/jiayuan/jiayuan/gateway v0.0.0
	github.com/jiayuan/jiayuan/gen v0.0.0
	github.com/jiayuan/jiayuan/platform v0.0.0
	github.com/jiayuan/jiayuan/services/partner v0.0.0
)

require github.com/google/uuid v1.6.0 // indirect

replace (
	github.com/jiayuan/jiayuan/gateway => ./gateway
	github.com/jiayuan/jiayuan/gen => ./gen
	github.com/jiayuan/jiayuan/platform => ./platform
	github.com/jiayuan/jiayuan/services/partner => ./services/partner
)
