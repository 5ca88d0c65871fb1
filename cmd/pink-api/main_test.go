package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseArgs(t *testing.T) {
	var stderr bytes.Buffer
	cfg, ver, err := parseArgs([]string{"--etcd", "http://127.0.0.1:2379,https://etcd-2:2379", "--http", "127.0.0.1:9000"}, env(nil), &stderr)
	require.NoError(t, err)
	require.False(t, ver)
	require.True(t, cfg.APIOnly)
	require.Equal(t, []string{"http://127.0.0.1:2379", "https://etcd-2:2379"}, cfg.Etcd.Endpoints)
	require.Equal(t, "127.0.0.1:9000", cfg.HTTPAddr)
	require.Equal(t, "/pink", cfg.Prefix)
	require.Contains(t, cfg.NodeID, "api-")

	cfg, _, err = parseArgs(nil, env(map[string]string{"PINK_ETCD": "http://e:2379", "PINK_PREFIX": "/other"}), &stderr)
	require.NoError(t, err)
	require.Equal(t, "/other", cfg.Prefix)
}

func TestParseArgsRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--etcd (or PINK_ETCD) is required"},
		{[]string{"--etcd", "ftp://x:1"}, "want a URL such as"},
		{[]string{"--etcd", "http://e:2379", "--prefix", "pink/"}, "want a key path"},
		{[]string{"--etcd", "http://e:2379", "--dev", "--http", "0.0.0.0:8002"}, "loopback"},
		{[]string{"--etcd", "http://e:2379", "--log-level", "loud"}, "want debug, info, warn or error"},
		{[]string{"--etcd", "http://e:2379", "--etcd-user", "bob"}, "PINK_ETCD_PASSWORD"},
		{[]string{"--etcd", "http://e:2379", "extra"}, "takes flags only"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, env(nil), &stdout, &stderr)
		require.Equal(t, 2, code, tc.args)
		require.Contains(t, stderr.String(), tc.want, tc.args)
	}
}

func TestHelpAndVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"--help"}, env(nil), &stdout, &stderr))
	require.Contains(t, stdout.String(), "--etcd")
	stdout.Reset()
	require.Equal(t, 0, run([]string{"--version"}, env(nil), &stdout, &stderr))
	require.Contains(t, stdout.String(), "pink-api")
}
