#!/usr/bin/env python3
"""A Pink worker in Python, on the HTTP worker API, with the standard library only.

It registers with a pink-node, heartbeats in a background thread, long-polls
for the runs assigned to it, marks each running, executes it in a thread of
its own, streams its output, reports its result, stops the runs the node says
were cancelled, and deregisters on SIGTERM or SIGINT after letting running
runs finish (up to --drain-timeout). The protocol is described in
docs/worker-protocol.md.

Built-in demo handlers:

  echo   writes its params, as JSON, to the output and succeeds
  sleep  sleeps params.seconds (default 1), writing progress; stops when cancelled
  fail   raises an error (params.message, default "demo failure")

Usage:

  PINK_WORKER_TOKEN=pink_worker_... python3 worker.py --url http://127.0.0.1:8002 \\
      --group demo --handler echo --handler report.daily=sleep

--handler NAME=BUILTIN serves the jobs whose handler is NAME with a built-in
handler; --handler NAME alone means NAME=NAME. Without --handler, the worker
serves echo, sleep and fail. To write your own, add a function that takes a
Run and returns a string (appended to the output) or raises, to BUILTINS.
"""

import argparse
import collections
import json
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

API_PREFIX = "/api/v1/worker"
VERSION = "pink-python-example/1"
MAX_OUTPUT = 64 * 1024  # the tail of a run's output the worker keeps, like the store
FLUSH_EVERY = 1.0  # seconds between output flushes of a running run
REPORT_FOR = 60.0  # seconds a result is retried through transient failures
SHUTDOWN_GRACE = 5.0  # seconds cancelled runs get to report during shutdown

log = logging.getLogger("pink-worker")


# --- the HTTP client -------------------------------------------------------


class APIError(Exception):
    """An error answer of the API: {"error":{"code","message","field"}}."""

    def __init__(self, status, code, message, field=""):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.field = status, code, message, field

    @property
    def transient(self):
        """Worth retrying: the node or its store is unavailable."""
        return self.status >= 500 or self.status == 429


class SessionLost(Exception):
    """The node does not know this worker any more: register again."""


class Client:
    """Calls the worker API of one node with a worker token."""

    def __init__(self, url, token, timeout=10.0):
        self.base = url.rstrip("/") + API_PREFIX
        self.token = token
        self.timeout = timeout

    def call(self, method, path, body=None, timeout=None):
        """Returns the decoded JSON answer (None for an empty one); raises
        APIError for an error answer, SessionLost for unknown_worker, and
        OSError (urllib.error.URLError, timeouts) when the node is not
        reachable."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Accept", "application/json")
        req.add_header("User-Agent", VERSION)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)["error"]
                code, message, field = err.get("code", ""), err.get("message", ""), err.get("field", "")
            except (ValueError, KeyError, TypeError):
                code, message, field = "http_%d" % e.code, raw[:200].decode("utf-8", "replace"), ""
            if e.code == 404 and code == "unknown_worker":
                raise SessionLost(message) from None
            raise APIError(e.code, code, message, field) from None
        return json.loads(raw) if raw else None


def transient(err):
    """Reports whether a failed call is worth retrying."""
    if isinstance(err, APIError):
        return err.transient
    return isinstance(err, OSError)  # URLError, connection refused or reset, timeouts


class Backoff:
    """Delays between retries: 0.2 s doubling up to 5 s, with jitter."""

    def __init__(self):
        self.n = 0

    def next(self):
        d = min(0.2 * (2 ** self.n), 5.0)
        self.n = min(self.n + 1, 10)
        return d * random.uniform(0.8, 1.2)

    def reset(self):
        self.n = 0


def quote(segment):
    return urllib.parse.quote(segment, safe="")


# --- runs and handlers -----------------------------------------------------


class Cancelled(Exception):
    """Raised by a handler that stops because its run was cancelled."""


class Run:
    """One attempt of a run, as a handler sees it.

    Handlers should be idempotent per (id, attempt): execution is at least once.
    """

    def __init__(self, data):
        self.data = data
        self.id = data["id"]
        self.attempt = data["attempt"]
        self.handler = data["handler"]
        self.params = data.get("params") or {}
        self.timeout = data.get("timeout_seconds") or 0
        self._stop = threading.Event()
        self.stop_reason = None  # cancelled, taken_away, session_lost, timeout, shutdown
        self._lock = threading.Lock()
        self._pending = ""  # output not sent yet
        self.fenced = False  # an output write was rejected: the attempt is over here
        # send_lock orders the output writes and the result of the run, so
        # that no output is sent after the result (it would be rejected).
        self.send_lock = threading.Lock()

    @property
    def key(self):
        return (self.id, self.attempt)

    def write(self, text):
        """Adds text to the run's output (sent about once a second)."""
        with self._lock:
            self._pending = (self._pending + str(text))[-MAX_OUTPUT:]

    def take_output(self):
        with self._lock:
            chunk, self._pending = self._pending, ""
            return chunk

    def unread(self, chunk):
        with self._lock:
            self._pending = (chunk + self._pending)[-MAX_OUTPUT:]

    def stop(self, reason):
        """Asks the handler to stop; the first reason wins."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self._stop.set()

    def stopped(self):
        """Reports whether the handler should stop."""
        return self._stop.is_set()

    def sleep(self, seconds):
        """Sleeps, and raises Cancelled if the run is stopped meanwhile."""
        if self._stop.wait(seconds):
            raise Cancelled(self.stop_reason)


def handle_echo(run):
    run.write(json.dumps(run.params, sort_keys=True) + "\n")


def handle_sleep(run):
    seconds = float(run.params.get("seconds", 1))
    slept = 0.0
    while slept < seconds:
        step = min(1.0, seconds - slept)
        run.sleep(step)
        slept += step
        run.write("slept %.1fs of %.1fs\n" % (slept, seconds))
    return "done\n"


def handle_fail(run):
    raise RuntimeError(run.params.get("message", "demo failure"))


BUILTINS = {"echo": handle_echo, "sleep": handle_sleep, "fail": handle_fail}


# --- the worker ------------------------------------------------------------


class Worker:
    def __init__(self, client, handlers, group="", worker_id="", capacity=4, ttl=5,
                 labels=None, wait=20, drain_timeout=30.0):
        self.client = client
        self.handlers = handlers
        self.group = group
        self.requested_id = worker_id
        self.capacity = capacity
        self.ttl = ttl
        self.labels = labels or {}
        self.wait = wait
        self.drain_timeout = drain_timeout

        self.lock = threading.Lock()
        self.worker_id = None  # None while not registered
        self.heartbeat_every = ttl / 3
        self.runs = {}  # (run id, attempt) -> Run, while its thread lives
        self.done = collections.deque(maxlen=1000)  # attempts ended here, newest last
        self.stopping = threading.Event()
        self.exited = threading.Event()  # the background threads must end
        self.failed = False  # stopped by an error, not a signal

    # -- session --

    def register(self):
        """Registers, retrying until it works or the worker stops."""
        bo = Backoff()
        body = {"hostname": socket.gethostname(), "handlers": sorted(self.handlers),
                "capacity": self.capacity, "ttl_seconds": self.ttl, "labels": self.labels,
                "version": VERSION}
        if self.group:
            body["group"] = self.group
        if self.requested_id:
            body["id"] = self.requested_id
        while not self.stopping.is_set():
            try:
                res = self.client.call("POST", "/register", body)
            except APIError as e:
                # A given ID may still be held by our previous session
                # until its TTL ends: wait and try again.
                if not (e.transient or e.code == "already_exists"):
                    raise
                err = e
            except OSError as e:
                err = e
            else:
                with self.lock:
                    self.worker_id = res["worker_id"]
                    self.heartbeat_every = res["heartbeat_seconds"]
                log.info("registered: group %s, worker %s, handlers %s, ttl %ss",
                         res["group"], res["worker_id"], sorted(self.handlers), res["ttl_seconds"])
                return True
            d = bo.next()
            log.warning("registration failed (%s); retrying in %.1fs", err, d)
            self.stopping.wait(d)
        return False

    def current_id(self):
        with self.lock:
            return self.worker_id

    def session_lost(self, wid, why):
        """The node forgot us (we were silent for a TTL, or it restarted):
        our runs are being failed over, so stop them and register again."""
        with self.lock:
            if self.worker_id != wid:
                return  # already handled
            self.worker_id = None
            runs = list(self.runs.values())
        log.error("SESSION LOST (%s): stopping %d running run(s); the scheduler fails them over; registering again",
                  why, len(runs))
        for r in runs:
            r.stop("session_lost")

    def apply_cancelled(self, items):
        for c in items or []:
            with self.lock:
                r = self.runs.get((c["id"], c["attempt"]))
            if r is not None and not r.stopped():
                log.info("run %s attempt %s %s: stopping it", c["id"], c["attempt"], c["reason"])
                r.stop(c["reason"])

    # -- background threads --

    def heartbeat_loop(self):
        while not self.exited.is_set():
            with self.lock:
                wid, every = self.worker_id, self.heartbeat_every
            if self.exited.wait(every if wid else 0.2) or wid is None:
                continue
            try:
                res = self.client.call("POST", "/workers/%s/heartbeat" % quote(wid), timeout=every)
                self.apply_cancelled(res.get("cancelled"))
            except SessionLost as e:
                self.session_lost(wid, e)
            except (APIError, OSError) as e:
                log.warning("heartbeat failed: %s", e)

    def flush_loop(self):
        while not self.exited.wait(FLUSH_EVERY):
            with self.lock:
                wid, runs = self.worker_id, list(self.runs.values())
            for r in runs:
                if wid:
                    self.flush(wid, r)

    def flush(self, wid, r):
        with r.send_lock:
            self.send_output(wid, r)

    def send_output(self, wid, r):
        chunk = r.take_output()
        if not chunk or r.fenced:
            return
        path = "/workers/%s/runs/%s/output" % (quote(wid), quote(r.id))
        try:
            self.client.call("POST", path, {"attempt": r.attempt, "chunk": chunk})
        except SessionLost:
            pass  # the heartbeat or poll deals with it
        except APIError as e:
            if e.transient:
                r.unread(chunk)
            else:
                r.fenced = True
                log.info("output of run %s attempt %s rejected (%s); dropping its output", r.id, r.attempt, e.code)
        except OSError:
            r.unread(chunk)

    # -- polling and running --

    def poll_loop(self):
        bo = Backoff()
        while not self.stopping.is_set():
            wid = self.current_id()
            if wid is None:
                try:
                    if not self.register():
                        return
                except APIError as e:
                    log.error("registration refused: %s; stopping", e)
                    self.failed = True
                    self.stopping.set()
                    return
                continue
            try:
                res = self.client.call("GET", "/workers/%s/runs?wait=%d" % (quote(wid), self.wait),
                                       timeout=self.wait + 10)
            except SessionLost as e:
                self.session_lost(wid, e)  # ignored if we deregistered
                continue
            except (APIError, OSError) as e:
                if not transient(e):
                    log.error("poll refused: %s", e)
                d = bo.next()
                log.warning("poll failed (%s); retrying in %.1fs", e, d)
                self.stopping.wait(d)
                continue
            bo.reset()
            self.apply_cancelled(res.get("cancelled"))
            if not res.get("runs") and self.wait == 0:
                self.stopping.wait(1.0)  # not a long poll: do not spin
            for data in res.get("runs") or []:
                if self.stopping.is_set():
                    break  # left to the scheduler, which fails it over
                self.take(wid, data)

    def take(self, wid, data):
        key = (data["id"], data["attempt"])
        with self.lock:
            if key in self.runs or key in self.done:
                return  # delivered again: at least once
            busy = len(self.runs) >= self.capacity
        if busy:
            return  # the scheduler respects capacity; if not, it comes again
        r = Run(data)
        handler = self.handlers.get(r.handler)
        if handler is None:
            self.done.append(key)
            msg = 'no handler "%s" on worker %s' % (r.handler, wid)
            log.warning("run %s attempt %s: %s", r.id, r.attempt, msg)
            self.report(wid, r, "failed", msg, "")
            return
        path = "/workers/%s/runs/%s/start" % (quote(wid), quote(r.id))
        try:
            started = self.client.call("POST", path, {"attempt": r.attempt})
        except SessionLost as e:
            self.session_lost(wid, e)
            return
        except (APIError, OSError) as e:
            # 409: no longer ours (cancelled, failed over). Transient: it
            # comes again in a later poll.
            log.info("run %s attempt %s not started: %s", r.id, r.attempt, e)
            return
        with self.lock:
            self.runs[key] = r
        log.info("run %s attempt %s started at %s: handler %s, timeout %ss",
                 r.id, r.attempt, started.get("started_at"), r.handler, r.timeout)
        threading.Thread(target=self.execute, args=(wid, r, handler), name="run-" + r.id, daemon=True).start()

    def execute(self, wid, r, handler):
        timer = None
        if r.timeout > 0:
            timer = threading.Timer(r.timeout, r.stop, args=("timeout",))
            timer.daemon = True
            timer.start()
        began = time.monotonic()
        state, error, extra = "succeeded", "", ""
        try:
            out = handler(r)
            if out:
                extra = str(out)
        except Cancelled:
            state, error = "failed", "stopped: %s" % r.stop_reason
        except Exception as e:  # the worker survives any handler error
            state, error = "failed", "%s: %s" % (type(e).__name__, e)
            extra = traceback.format_exc()[-4096:]
        finally:
            if timer is not None:
                timer.cancel()
        reason = r.stop_reason
        if reason == "timeout" and state != "succeeded":
            state, error = "timed_out", "timed out after %ss: %s" % (r.timeout, error)
        elif reason == "shutdown" and state != "succeeded":
            state, error = "failed", "worker shutting down: %s" % error
        took = time.monotonic() - began
        if reason in ("cancelled", "taken_away", "session_lost"):
            # No longer ours: a result would be rejected.
            log.info("run %s attempt %s stopped (%s) after %.1fs; not reported", r.id, r.attempt, reason, took)
        else:
            r.write(extra)
            with r.send_lock:
                self.report(wid, r, state, error, r.take_output())
            log.info("run %s attempt %s %s after %.1fs%s", r.id, r.attempt, state, took,
                     (": " + error) if error else "")
        with self.lock:
            self.runs.pop(r.key, None)
            self.done.append(r.key)

    def report(self, wid, r, state, error, output):
        """Sends a result, retrying transient failures for a while."""
        path = "/workers/%s/runs/%s/result" % (quote(wid), quote(r.id))
        body = {"attempt": r.attempt, "state": state, "error": error[-4096:], "output": output}
        bo, until = Backoff(), time.monotonic() + REPORT_FOR
        while True:
            try:
                res = self.client.call("POST", path, body)
                return res
            except SessionLost:
                log.warning("result of run %s attempt %s not accepted: the session is gone", r.id, r.attempt)
                return None
            except (APIError, OSError) as e:
                if not transient(e):
                    log.info("result of run %s attempt %s rejected: %s", r.id, r.attempt, e)
                    return None
                if time.monotonic() > until or self.exited.is_set():
                    log.error("result of run %s attempt %s not sent: %s", r.id, r.attempt, e)
                    return None
                self.exited.wait(bo.next())

    # -- shutdown --

    def shutdown(self):
        """Takes no new runs, waits for running ones up to the drain timeout,
        stops the rest (reported failed), then deregisters."""
        self.stopping.set()
        with self.lock:
            n = len(self.runs)
        log.info("stopping: taking no new runs; %d running, drain timeout %ss", n, self.drain_timeout)
        if not self.wait_runs(self.drain_timeout):
            with self.lock:
                runs = list(self.runs.values())
            log.warning("drain timeout passed: stopping %d run(s)", len(runs))
            for r in runs:
                r.stop("shutdown")
            self.wait_runs(SHUTDOWN_GRACE)
        with self.lock:
            # From here on the node forgetting us is no news (see session_lost).
            wid, self.worker_id = self.worker_id, None
        if wid:
            try:
                self.client.call("DELETE", "/workers/%s" % quote(wid))
                log.info("deregistered worker %s", wid)
            except (SessionLost, APIError, OSError) as e:
                log.warning("deregistration failed (%s); the registration ends with its TTL", e)
        self.exited.set()

    def wait_runs(self, seconds):
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            with self.lock:
                if not self.runs:
                    return True
            time.sleep(0.05)
        with self.lock:
            return not self.runs


# --- main ------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description="A Pink worker on the HTTP worker API (Python standard library only).")
    p.add_argument("--url", default="http://127.0.0.1:8002", help="the pink-node's base URL (default %(default)s)")
    p.add_argument("--token", default=os.environ.get("PINK_WORKER_TOKEN", ""),
                   help="a worker token of the group (default: $PINK_WORKER_TOKEN)")
    p.add_argument("--group", default="", help="the job group (default: the token's)")
    p.add_argument("--id", default="", help="the worker ID (default: generated by the node)")
    p.add_argument("--handler", action="append", default=[], metavar="NAME[=BUILTIN]",
                   help="serve jobs with handler NAME with a built-in (%s); repeatable" % ", ".join(sorted(BUILTINS)))
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="a label; repeatable")
    p.add_argument("--capacity", type=int, default=4, help="runs executed at once (default %(default)s)")
    p.add_argument("--ttl", type=int, default=5, help="session TTL in seconds, 2-60 (default %(default)s)")
    p.add_argument("--wait", type=int, default=20, help="long-poll wait in seconds, 0-30 (default %(default)s)")
    p.add_argument("--drain-timeout", type=float, default=30.0,
                   help="seconds running runs get to finish on shutdown (default %(default)s)")
    args = p.parse_args(argv)
    if not 2 <= args.ttl <= 60:
        p.error("--ttl must be between 2 and 60 seconds")
    if not 0 <= args.wait <= 30:
        p.error("--wait must be between 0 and 30 seconds")
    if args.capacity < 1:
        p.error("--capacity must be at least 1")
    if not args.token:
        p.error("a worker token is required: --token or $PINK_WORKER_TOKEN (pinkctl or the console makes one)")
    handlers = {}
    for spec in args.handler or sorted(BUILTINS):
        name, _, builtin = spec.partition("=")
        builtin = builtin or name
        if builtin not in BUILTINS:
            p.error("--handler %s: no built-in handler %r (have %s)" % (spec, builtin, ", ".join(sorted(BUILTINS))))
        handlers[name] = BUILTINS[builtin]
    labels = {}
    for spec in args.label:
        k, sep, v = spec.partition("=")
        if not sep:
            p.error("--label %s: want KEY=VALUE" % spec)
        labels[k] = v
    return args, handlers, labels


def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(threadName)s: %(message)s")
    args, handlers, labels = parse_args(argv)
    w = Worker(Client(args.url, args.token), handlers, group=args.group, worker_id=args.id,
               capacity=args.capacity, ttl=args.ttl, labels=labels, wait=args.wait,
               drain_timeout=args.drain_timeout)

    def on_signal(signum, _frame):
        log.info("received %s", signal.Signals(signum).name)
        w.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        if not w.register():
            return 0
    except APIError as e:
        log.error("registration refused: %s", e)
        return 2
    threads = [threading.Thread(target=f, name=n, daemon=True)
               for f, n in ((w.heartbeat_loop, "heartbeat"), (w.flush_loop, "output"), (w.poll_loop, "poll"))]
    for t in threads:
        t.start()
    while not w.stopping.wait(0.2):  # the main thread takes the signals
        pass
    w.shutdown()
    log.info("worker stopped")
    return 1 if w.failed else 0


if __name__ == "__main__":
    sys.exit(main())
