package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/wsproxy/wsproxy/proxy"
	"github.com/wsproxy/wsproxy/proxy/auth"
)

// websockify's BasicHTTPAuth with the source "operator:secret": the
// right credentials give the user name, others are answered 401 with a
// challenge. A proxy.Server calls Authenticate before the upgrade when
// the authenticator is in its ServerOptions.
func ExampleNewBasic() {
	a := auth.NewBasic("operator", "secret")
	for _, password := range []string{"secret", "guess"} {
		req, _ := http.NewRequest(http.MethodGet, "http://proxy.example/websockify", nil)
		req.SetBasicAuth("operator", password)
		user, err := a.Authenticate(context.Background(), &proxy.Request{HTTP: req})
		if herr, ok := errors.AsType[*proxy.HTTPError](err); ok {
			fmt.Println(herr.Status, herr.Header.Get("WWW-Authenticate"))
			continue
		}
		fmt.Println("user", user)
	}
	// Output:
	// user operator
	// 401 Basic realm="Websockify", charset="UTF-8"
}
