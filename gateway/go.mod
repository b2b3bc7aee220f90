module github.com/jiayuan/jiayuan/gateway

go 1.26.0

require github.com/jiayuan/jiayuan/gen v0.0.0

replace github.com/jiayuan/jiayuan/gen => ../gen
