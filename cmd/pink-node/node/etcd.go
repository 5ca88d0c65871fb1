package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"

	"github.com/pink-scheduler/pink/adapters/etcd"
)

// newEtcdClient provides the *clientv3.Client every component is built
// on. Components only keep it when they are built; it is connected by the
// OnStart hook appended here, before any other hook, so it is connected
// before anything uses it and closed after everything has stopped.
func newEtcdClient(cfg Config, lc fx.Lifecycle, sd fx.Shutdowner) *clientv3.Client {
	p := etcd.NewPendingClient()
	if cfg.External() {
		x := &externalEtcd{cfg: cfg, p: p, log: cfg.Logger}
		lc.Append(fx.StartStopHook(x.start, x.stop))
	} else {
		e := &embeddedEtcd{cfg: cfg, p: p, sd: sd, log: cfg.Logger}
		lc.Append(fx.StartStopHook(e.start, e.stop))
	}
	return p.Client()
}

// embeddedEtcd runs the embedded single-member etcd and connects the
// node's client to it in-process.
type embeddedEtcd struct {
	cfg Config
	p   *etcd.PendingClient
	sd  fx.Shutdowner
	log *slog.Logger

	srv     *etcd.Server
	stopped chan struct{} // closed by stop: ends watch
	watched chan struct{} // closed when watch returns
}

func (e *embeddedEtcd) start(ctx context.Context) error {
	dir, err := filepath.Abs(e.cfg.Embedded.DataDir)
	if err != nil {
		return fmt.Errorf("embedded etcd: data dir %q: %w", e.cfg.Embedded.DataDir, err)
	}
	srv, err := etcd.StartServer(ctx, etcd.ServerConfig{
		DataDir:       dir,
		ClientURL:     e.cfg.Embedded.ClientURL,
		PeerURL:       e.cfg.Embedded.PeerURL,
		Fast:          e.cfg.Embedded.Fast,
		UnsafeNoFsync: e.cfg.Embedded.UnsafeNoFsync,
		Logger:        e.log,
	})
	if err != nil {
		return fmt.Errorf("start embedded etcd (data dir %s, client URL %s, peer URL %s): %w%s",
			dir, e.cfg.Embedded.ClientURL, e.cfg.Embedded.PeerURL, err, addrInUseHint(err))
	}
	e.srv = srv
	e.p.Connect(srv.Client())
	e.stopped, e.watched = make(chan struct{}), make(chan struct{})
	go e.watch()
	e.log.Info("embedded etcd ready", "client_url", srv.ClientURL(), "peer_url", srv.PeerURL(), "data_dir", dir)
	return nil
}

// watch stops the node if the embedded server fails: nothing works
// without it.
func (e *embeddedEtcd) watch() {
	defer close(e.watched)
	select {
	case err, ok := <-e.srv.Err():
		if !ok {
			return
		}
		e.log.Error("embedded etcd failed; stopping the node", "err", err)
		_ = e.sd.Shutdown(fx.ExitCode(1))
	case <-e.stopped:
	}
}

func (e *embeddedEtcd) stop(context.Context) error {
	close(e.stopped)
	<-e.watched
	err := e.p.Close()
	e.srv.Close()
	e.log.Info("embedded etcd stopped")
	return err
}

// addrInUseHint explains the usual cause of a port already taken.
func addrInUseHint(err error) string {
	if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
		return " (another pink-node or etcd already listens there: join it with --etcd, or choose other ports with --etcd-listen and --etcd-peer-listen)"
	}
	return ""
}

// externalEtcd connects the node's client to an external cluster.
type externalEtcd struct {
	cfg Config
	p   *etcd.PendingClient
	log *slog.Logger

	cli *clientv3.Client
}

func (x *externalEtcd) start(ctx context.Context) error {
	eps := strings.Join(x.cfg.Etcd.Endpoints, ",")
	cc := x.cfg.Etcd
	if cc.DialTimeout <= 0 || cc.DialTimeout > x.cfg.EtcdCheck {
		cc.DialTimeout = min(etcd.DefaultDialTimeout, x.cfg.EtcdCheck)
	}
	cli, err := etcd.NewClient(cc)
	if err != nil {
		return fmt.Errorf("connect to etcd at %s: %w", eps, err)
	}
	pctx, cancel := context.WithTimeout(ctx, x.cfg.EtcdCheck)
	err = etcd.Ping(pctx, cli, x.cfg.Prefix)
	cancel()
	if err != nil {
		_ = cli.Close()
		return fmt.Errorf("etcd at %s did not answer within %s: %w", eps, x.cfg.EtcdCheck, err)
	}
	x.cli = cli
	x.p.Connect(cli)
	x.log.Info("etcd reachable", "endpoints", eps)
	return nil
}

func (x *externalEtcd) stop(context.Context) error {
	err := x.p.Close()
	if cerr := x.cli.Close(); cerr != nil && !errors.Is(cerr, context.Canceled) && err == nil {
		err = cerr
	}
	return err
}
