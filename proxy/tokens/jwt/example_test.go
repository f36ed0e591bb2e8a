package jwt_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/wsproxy/wsproxy/proxy/tokens/jwt"
)

// websockify's JWTTokenApi with a symmetric key: the key file holds the
// base64url-encoded key, and a token signed with it carries its target
// in the claims "host" and "port".
func ExampleNewTokens() {
	dir, err := os.MkdirTemp("", "jwt")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	secret := []byte("0123456789abcdef0123456789abcdef")
	path := filepath.Join(dir, "key")
	if err := os.WriteFile(path, []byte(base64.RawURLEncoding.EncodeToString(secret)), 0o600); err != nil {
		log.Fatal(err)
	}
	store, err := jwt.NewTokens(path, jwt.Options{})
	if err != nil {
		log.Fatal(err)
	}

	// What the operator's portal hands to a client.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, nil)
	if err != nil {
		log.Fatal(err)
	}
	token, err := josejwt.Signed(signer).Claims(map[string]any{"host": "192.0.2.10", "port": 5901}).Serialize()
	if err != nil {
		log.Fatal(err)
	}

	t, err := store.Lookup(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Network, t.Address)
	// Output: tcp 192.0.2.10:5901
}
