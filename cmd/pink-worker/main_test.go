package main

import (
	"os"
	"testing"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/internal/etcdtest"
)

// testServer is one embedded etcd shared by the package's end-to-end
// tests; each test works under its own key prefix.
var testServer *etcd.Server

func TestMain(m *testing.M) {
	os.Exit(etcdtest.Main(m, "pink-worker-test-", &testServer))
}
