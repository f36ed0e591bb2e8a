package redis_test

import (
	"log"
	"time"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/tokens/redis"
)

// websockify's TokenRedis with the source "host:port:db:password:namespace":
// the target of token "vm1" is the value of the key "vnc:vm1", as
// "host:port" or {"host": "host:port"}. NewTokens does not connect; a
// Redis that is down fails the lookups, answered 502, not the start.
func ExampleNewTokens() {
	store, err := redis.NewTokens("redis.example:6379:0::vnc", redis.Options{Timeout: 2 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	srv, err := proxy.NewServer(proxy.ServerOptions{Resolver: &proxy.TokenResolver{Tokens: store}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	// srv.Serve(ctx, listener) ...
}
