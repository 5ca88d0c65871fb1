package etcd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func TestNewClientPings(t *testing.T) {
	cli, err := NewClient(ClientConfig{Endpoints: []string{testServer.ClientURL()}})
	require.NoError(t, err)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, Ping(ctx, cli, testPrefix(t)))
	require.NoError(t, Ping(ctx, cli, ""), "default prefix")
}

func TestPingUnreachable(t *testing.T) {
	// A port nothing listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	cli, err := NewClient(ClientConfig{Endpoints: []string{"http://" + addr}})
	require.NoError(t, err, "the client connects lazily")
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = Ping(ctx, cli, "")
	require.ErrorIs(t, err, domain.ErrUnavailable)
	require.Less(t, time.Since(start), 5*time.Second, "bounded by ctx")
}

func TestNewClientChecksConfig(t *testing.T) {
	_, err := NewClient(ClientConfig{})
	require.ErrorContains(t, err, "no endpoints")
	_, err = NewClient(ClientConfig{Endpoints: []string{"http://127.0.0.1:2379"}, Username: "root"})
	require.ErrorContains(t, err, "a username needs a password")
	_, err = NewClient(ClientConfig{Endpoints: []string{"http://127.0.0.1:2379"}, Password: "secret"})
	require.ErrorContains(t, err, "a username needs a password")
	_, err = NewClient(ClientConfig{Endpoints: []string{"https://127.0.0.1:2379"}, CACertFile: "/nonexistent/ca.pem"})
	require.ErrorContains(t, err, "read CA certificates")
}

func TestClientConfigTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	ca := filepath.Join(dir, "ca.pem")
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	junk := filepath.Join(dir, "junk.pem")
	require.NoError(t, os.WriteFile(ca, certPEM, 0o600))
	require.NoError(t, os.WriteFile(cert, certPEM, 0o600))
	require.NoError(t, os.WriteFile(key, keyPEM, 0o600))
	require.NoError(t, os.WriteFile(junk, []byte("not a certificate"), 0o600))

	tc, err := ClientConfig{}.TLSConfig()
	require.NoError(t, err)
	require.Nil(t, tc, "no files, no TLS config")

	tc, err = ClientConfig{CACertFile: ca, CertFile: cert, KeyFile: key}.TLSConfig()
	require.NoError(t, err)
	require.NotNil(t, tc.RootCAs)
	require.Len(t, tc.Certificates, 1)

	for name, tt := range map[string]struct {
		cc   ClientConfig
		want string
	}{
		"missing CA":       {ClientConfig{CACertFile: filepath.Join(dir, "none.pem")}, "read CA certificates"},
		"CA not PEM":       {ClientConfig{CACertFile: junk}, "holds no PEM certificate"},
		"cert without key": {ClientConfig{CertFile: cert}, "needs both its certificate file and its key file"},
		"key without cert": {ClientConfig{KeyFile: key}, "needs both its certificate file and its key file"},
		"key not PEM":      {ClientConfig{CertFile: cert, KeyFile: junk}, "load client certificate"},
	} {
		_, err := tt.cc.TLSConfig()
		require.ErrorContains(t, err, tt.want, name)
	}
}

func TestPendingClient(t *testing.T) {
	p := NewPendingClient()
	cli := p.Client()
	require.NoError(t, cli.Ctx().Err())
	// What a component does when it is built: keep the client.
	s := NewStore(cli, Options{Prefix: testPrefix(t)})

	// What the lifecycle hook does later: connect it.
	p.Connect(testClient(t))
	require.Panics(t, func() { p.Connect(testClient(t)) }, "connect once")
	ctx := context.Background()
	_, err := s.CreateGroup(ctx, domain.Group{Name: "pending"})
	require.NoError(t, err)
	_, err = s.GetGroup(ctx, "pending")
	require.NoError(t, err)
	watch := s.WatchJobs(ctx, 0)

	require.NoError(t, p.Close())
	require.Error(t, cli.Ctx().Err(), "users see the client closed")
	for range watch { // the watch ends with the client
	}
	require.NoError(t, p.Close(), "Close twice")
	require.NoError(t, NewPendingClient().Close(), "Close before Connect")
}

// selfSigned returns a self-signed certificate and its key, PEM-encoded.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pink-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
