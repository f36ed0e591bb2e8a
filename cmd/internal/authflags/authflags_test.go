package authflags

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsproxy/wsproxy/proxy"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		f            Flags
		verifyClient bool
		wantErr      string // the whole message; "" for no error
	}{
		{"None", Flags{}, false, ""},
		{"Basic", Flags{AuthPlugin: "BasicHTTPAuth", AuthSource: "user:pass"}, false, ""},
		{"ModulePrefix", Flags{AuthPlugin: "websockify.auth_plugins.ExpectOrigin", AuthSource: "https://a.example"}, false, ""},
		{"ClientCert", Flags{AuthPlugin: "ClientCertCNAuth", AuthSource: "alice bob"}, true, ""},

		{"ErrSourceAlone", Flags{AuthSource: "a:b"}, false, "--auth-source needs --auth-plugin"},
		{"ErrUnknown", Flags{AuthPlugin: "DigestAuth", AuthSource: "x"}, false, "--auth-plugin DigestAuth: unknown plugin; want one of BasicHTTPAuth, ClientCertCNAuth, ExpectOrigin"},
		{"ErrPython", Flags{AuthPlugin: "corp.plugins.Auth", AuthSource: "x"}, false, "--auth-plugin corp.plugins.Auth: only websockify's own plugins are built in (BasicHTTPAuth, ClientCertCNAuth, ExpectOrigin), Python classes cannot be loaded"},
		{"ErrTokenModule", Flags{AuthPlugin: "websockify.token_plugins.BasicHTTPAuth", AuthSource: "x"}, false, "--auth-plugin websockify.token_plugins.BasicHTTPAuth: only websockify's own plugins are built in (BasicHTTPAuth, ClientCertCNAuth, ExpectOrigin), Python classes cannot be loaded"},
		{"ErrNoSource", Flags{AuthPlugin: "ExpectOrigin"}, false, "--auth-plugin ExpectOrigin needs --auth-source"},
		{"ErrBlankSource", Flags{AuthPlugin: "ClientCertCNAuth", AuthSource: "  "}, true, "--auth-plugin ClientCertCNAuth needs --auth-source"},
		{"ErrClientCertNoVerify", Flags{AuthPlugin: "ClientCertCNAuth", AuthSource: "alice"}, false, "--auth-plugin ClientCertCNAuth needs --verify-client: only a verified client certificate counts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.f.Check(tt.verifyClient)
			if got := errString(err); got != tt.wantErr {
				t.Errorf("Check = %q, want %q", got, tt.wantErr)
			}
			a, aerr := tt.f.Authenticator(tt.verifyClient)
			if errString(aerr) != tt.wantErr || (a == nil) != (tt.wantErr != "" || tt.f.AuthPlugin == "") {
				t.Errorf("Authenticator = %v, %v; want the error of Check, and an authenticator if a plugin is set", a, aerr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// An htpasswd source that cannot be used fails at start.
func TestAuthenticatorErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notBcrypt := filepath.Join(dir, "htpasswd2")
	if err := os.WriteFile(notBcrypt, []byte("alice:{SHA}x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"Missing": filepath.Join(dir, "htpasswd"), "NotBcrypt": notBcrypt} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := Flags{AuthPlugin: BasicHTTPAuth, AuthSource: src}
			a, err := f.Authenticator(false)
			if a != nil || err == nil || !strings.HasPrefix(err.Error(), "--auth-plugin BasicHTTPAuth: ") {
				t.Errorf("Authenticator = %v, %v; want an error naming the plugin", a, err)
			}
		})
	}
}

// failing is an Authenticator whose error is not an *proxy.HTTPError.
type failing struct{}

func (failing) Authenticate(context.Context, *proxy.Request) (string, error) {
	return "", errors.New("store down")
}

func TestGuard(t *testing.T) {
	t.Parallel()
	basic, err := (&Flags{AuthPlugin: BasicHTTPAuth, AuthSource: "Aladdin:open sesame"}).Authenticator(false)
	if err != nil {
		t.Fatal(err)
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page") })
	tests := []struct {
		name       string
		auth       proxy.Authenticator
		header     string // Authorization
		wantStatus int
		wantBody   string
		wantHeader string // WWW-Authenticate
	}{
		{"Accepted", basic, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", http.StatusOK, "page", ""},
		{"NoCredentials", basic, "", http.StatusUnauthorized, "authentication required\n", `Basic realm="Websockify", charset="UTF-8"`},
		{"WrongPassword", basic, "Basic QWxhZGRpbjpvcGVu", http.StatusUnauthorized, "authentication required\n", `Basic realm="Websockify", charset="UTF-8"`},
		{"PluginFails", failing{}, "", http.StatusInternalServerError, "authentication failed\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/ui/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			Guard(tt.auth, next, nil).ServeHTTP(w, r)
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody || w.Header().Get("WWW-Authenticate") != tt.wantHeader {
				t.Errorf("got %d %q, WWW-Authenticate %q; want %d %q, %q", w.Code, w.Body, w.Header().Get("WWW-Authenticate"), tt.wantStatus, tt.wantBody, tt.wantHeader)
			}
		})
	}
}
