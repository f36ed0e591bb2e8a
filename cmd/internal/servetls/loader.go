package servetls

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/youmark/pkcs8"

	"github.com/wsproxy/wsproxy/internal/regfile"
)

// Loader holds the certificate of --cert and --key and reloads it,
// without a restart, when the files change or on SIGHUP (websockify loads
// them once: its issues 374 and 554). A certificate that fails to load
// leaves the current one in place, with an error in the log; so does a
// named pipe or other special file in place of one, which is not opened
// (regfile), as a read of it would wait for a writer for ever.
//
// Changes are found by polling the files' status (os.Stat, which follows
// symbolic links) rather than with inotify (fsnotify): certbot and
// Kubernetes replace certificates by swapping symbolic links or renaming
// files into place, which a watch on the file misses and a watch on its
// directory sees only with care for links; two stat calls every few seconds
// see all of these, and need no dependency.
//
// GetCertificate is safe for concurrent use; load and watch are not called
// concurrently.
type Loader struct {
	certFile, keyFile string // keyFile empty: the key is in certFile
	password          []byte
	log               *slog.Logger // set by Watch

	cert  atomic.Pointer[tls.Certificate]
	mu    sync.Mutex
	stamp [2]os.FileInfo // of certFile and keyFile when last (re)loaded or tried
}

// GetCertificate returns the current certificate.
func (l *Loader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return l.cert.Load(), nil
}

// load loads the certificate and key from the files.
func (l *Loader) load() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stamp = l.stat()
	certPEM, err := regfile.ReadFile(l.certFile)
	if err != nil {
		return fmt.Errorf("cert: %w", err)
	}
	keyPEM := certPEM
	if l.keyFile != "" {
		if keyPEM, err = regfile.ReadFile(l.keyFile); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	cert, err := keyPair(certPEM, keyPEM, l.password)
	if err != nil {
		if l.keyFile == "" {
			return fmt.Errorf("cert %s: %w", l.certFile, err)
		}
		return fmt.Errorf("cert %s, key %s: %w", l.certFile, l.keyFile, err)
	}
	l.cert.Store(&cert)
	return nil
}

// stat returns the status of the files, nil for those it cannot get.
func (l *Loader) stat() [2]os.FileInfo {
	var st [2]os.FileInfo
	st[0], _ = os.Stat(l.certFile)
	if l.keyFile != "" {
		st[1], _ = os.Stat(l.keyFile)
	}
	return st
}

// changed reports whether the files changed since they were last loaded.
func (l *Loader) changed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.stat()
	for i, fi := range now {
		old := l.stamp[i]
		switch {
		case fi == nil && old == nil:
		case fi == nil || old == nil:
			return true
		case !os.SameFile(fi, old) || !fi.ModTime().Equal(old.ModTime()) || fi.Size() != old.Size():
			return true
		}
	}
	return false
}

// reload loads the files again, keeping the current certificate if that
// fails, and logs the outcome.
func (l *Loader) reload(why string) {
	if err := l.load(); err != nil {
		l.log.Error("certificate not reloaded: keeping the current one", "why", why, "err", err)
		return
	}
	attrs := []any{"why", why}
	if leaf := l.cert.Load().Leaf; leaf != nil {
		attrs = append(attrs, "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	}
	l.log.Info("certificate reloaded", attrs...)
}

// watch reloads the certificate when the files change (checked every
// interval; never if interval is 0) and on each value from hup, until ctx
// is done.
func (l *Loader) watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			l.reload("SIGHUP")
		case <-tick:
			if l.changed() {
				l.reload("files changed")
			}
		}
	}
}

// keyPair parses a PEM certificate chain and its private key, which may be
// encrypted with password: PKCS #8 encryption ("ENCRYPTED PRIVATE KEY", what
// OpenSSL 3 writes) or OpenSSL's legacy PEM encryption ("Proc-Type:
// 4,ENCRYPTED"), the two that Python's load_cert_chain reads for websockify.
// A password given for a key that is not encrypted is ignored, as there.
func keyPair(certPEM, keyPEM, password []byte) (tls.Certificate, error) {
	block, err := privateKeyBlock(keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	switch {
	case block.Type == "ENCRYPTED PRIVATE KEY":
		if len(password) == 0 {
			return tls.Certificate{}, errors.New("the key is encrypted: give --key-password")
		}
		key, err := pkcs8.ParsePKCS8PrivateKey(block.Bytes, password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("decrypting the key (wrong --key-password?): %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("key: %w", err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	//lint:ignore SA1019 legacy PEM encryption is insecure but still what older OpenSSL tools write; reading it is what --key-password promises.
	case x509.IsEncryptedPEMBlock(block):
		if len(password) == 0 {
			return tls.Certificate{}, errors.New("the key is encrypted: give --key-password")
		}
		//lint:ignore SA1019 as above.
		der, err := x509.DecryptPEMBlock(block, password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("decrypting the key (wrong --key-password?): %w", err)
		}
		block = &pem.Block{Type: block.Type, Bytes: der}
	}
	return tls.X509KeyPair(certPEM, pem.EncodeToMemory(block))
}

// privateKeyBlock returns the first private key block of a PEM file.
func privateKeyBlock(data []byte) (*pem.Block, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		if block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY") {
			return block, nil
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, errors.New("no PEM private key found")
		}
	}
}

// Watch catches SIGHUP and, until stop is called, reloads l's certificate
// when its files change (checked every interval; never if interval is 0)
// and on each SIGHUP. With a nil l it only logs each SIGHUP, which would
// otherwise end the process (websockify dies of one). stop ends the watch
// and waits for it.
func Watch(ctx context.Context, l *Loader, interval time.Duration, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if l == nil {
			ignoreHUP(ctx, hup, log)
			return
		}
		l.log = log
		l.watch(ctx, interval, hup)
	}()
	return func() {
		cancel()
		<-done
		signal.Stop(hup)
	}
}

// ignoreHUP logs the SIGHUPs that come without a certificate to reload,
// until ctx is done.
func ignoreHUP(ctx context.Context, hup <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-hup:
			log.Info("SIGHUP: no certificate to reload")
		case <-ctx.Done():
			return
		}
	}
}
