package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

var testFlags = []Flag{
	{Name: "name", Env: "T_NAME", Default: "d", Usage: "a name"},
	{Name: "on", Env: "T_ON", Bool: true, Usage: "a switch"},
}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParsePrecedence(t *testing.T) {
	p, version, err := Parse("t", testFlags, nil, getenv(nil))
	require.NoError(t, err)
	require.False(t, version)
	require.Equal(t, Value{S: "d", Source: "--name"}, p.Get("name"))
	on, v := p.GetBool("on")
	require.False(t, on)
	require.False(t, v.Given)

	p, _, err = Parse("t", testFlags, nil, getenv(map[string]string{"T_NAME": "e", "T_ON": "nope"}))
	require.NoError(t, err)
	require.Equal(t, Value{S: "e", Source: "T_NAME", Given: true}, p.Get("name"))
	on, _ = p.GetBool("on")
	require.False(t, on)
	require.EqualError(t, p.Err(), `invalid T_ON "nope": want true or false`)

	p, _, err = Parse("t", testFlags, []string{"--name", "f", "--on"}, getenv(map[string]string{"T_NAME": "e", "T_ON": "false"}))
	require.NoError(t, err)
	require.Equal(t, Value{S: "f", Source: "--name", Given: true}, p.Get("name"))
	on, _ = p.GetBool("on")
	require.True(t, on)
	require.NoError(t, p.Err())
}

func TestParseEarlyExits(t *testing.T) {
	_, _, err := Parse("t", testFlags, []string{"-h"}, getenv(nil))
	require.ErrorIs(t, err, ErrHelp)
	_, version, err := Parse("t", testFlags, []string{"--version", "extra"}, getenv(nil))
	require.NoError(t, err)
	require.True(t, version)
	_, _, err = Parse("t", testFlags, []string{"extra"}, getenv(nil))
	require.EqualError(t, err, `unexpected argument "extra": t takes flags only`)
}

func TestLogSettings(t *testing.T) {
	l, ok := ParseLogLevel("WARNING")
	require.True(t, ok)
	require.Equal(t, slog.LevelWarn, l)
	_, ok = ParseLogLevel("loud")
	require.False(t, ok)
	f, ok := ParseLogFormat("JSON")
	require.True(t, ok)
	require.Equal(t, "json", f)
	_, ok = ParseLogFormat("xml")
	require.False(t, ok)
}

func TestPrintUsageError(t *testing.T) {
	var b bytes.Buffer
	PrintUsageError(&b, "t", errors.Join(errors.New("one"), errors.New("two")))
	require.Equal(t, "t: one\nt: two\nRun 't --help' for usage.\n", b.String())
}

func TestVersion(t *testing.T) {
	require.Equal(t, "v1.2.3", Version("v1.2.3"))
	require.NotEmpty(t, Version(""))
}
