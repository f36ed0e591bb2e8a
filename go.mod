module github.com/wsproxy/wsproxy

go 1.26.8

require (
	github.com/alecthomas/kong v1.17.0 // indirect
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)
