// Pink console: the little JavaScript the pages use. No framework, no
// build; every page works without it except the live parts (schedule
// preview, following a running run), which degrade to a reload.
"use strict";

(function () {
  // Forms that destroy something ask first.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  // Filter selects apply at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () {
      if (sel.form) sel.form.submit();
    });
  });

  // A secret field selects itself; a copy button copies it.
  document.querySelectorAll("[data-select-all]").forEach(function (el) {
    el.addEventListener("focus", function () { el.select(); });
  });
  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var field = document.getElementById(btn.getAttribute("data-copy"));
      if (!field) return;
      var done = function () { btn.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
      } else {
        field.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* selected: the user copies */ }
      }
    });
  });

  setupPreview();
  setupFollow();

  // The job form's live preview of the next fire times: debounced, and a
  // newer request aborts the older one.
  function setupPreview() {
    var box = document.getElementById("preview");
    var expr = document.getElementById("f-schedule");
    if (!box || !expr) return;
    var tz = document.getElementById("f-timezone");
    var status = document.getElementById("preview-status");
    var list = document.getElementById("preview-list");
    var url = box.getAttribute("data-url");
    var timer = null;
    var ctrl = null;

    function show(message, isError, items) {
      status.textContent = message;
      box.classList.toggle("is-error", !!isError);
      box.setAttribute("data-state", isError ? "error" : (items ? "ok" : "idle"));
      list.textContent = "";
      (items || []).forEach(function (t) {
        var li = document.createElement("li");
        li.textContent = t;
        list.appendChild(li);
      });
    }

    function run() {
      var e = expr.value.trim();
      if (!e) { show("Type a schedule to see when it fires.", false, null); return; }
      if (ctrl) ctrl.abort();
      ctrl = new AbortController();
      var q = "?expr=" + encodeURIComponent(e) + "&tz=" + encodeURIComponent(tz ? tz.value.trim() : "") + "&count=5";
      fetch(url + q, { signal: ctrl.signal, credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (resp) {
          return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
        })
        .then(function (res) {
          if (res.ok) {
            show("Next " + res.body.display.length + " fire times (" + res.body.zone + "):", false, res.body.display);
          } else {
            var err = res.body && res.body.error ? res.body.error : { message: "invalid" };
            var field = err.field === "timezone" ? "Time zone" : "Schedule";
            show(field + ": " + err.message, true, null);
          }
        })
        .catch(function (err) {
          if (err && err.name === "AbortError") return;
          show("Could not check the schedule (offline?).", true, null);
        });
    }

    function schedule() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(run, 300);
    }
    expr.addEventListener("input", schedule);
    if (tz) tz.addEventListener("input", schedule);
    if (tz) tz.addEventListener("change", schedule);
    run();
  }

  // The run page follows a running run: poll its JSON every second until
  // it is terminal, updating the state, times and output in place.
  function setupFollow() {
    var root = document.getElementById("run");
    if (!root) return;
    var url = root.getAttribute("data-follow");
    if (!url) return;
    var out = document.getElementById("run-output");
    var followStatus = document.getElementById("follow-status");
    var failures = 0;

    function set(id, text) {
      var el = document.getElementById(id);
      if (el && el.textContent !== text) el.textContent = text;
    }

    function update(r) {
      var badge = document.getElementById("run-state");
      if (badge) {
        badge.textContent = r.state_label;
        badge.className = "badge badge-" + r.state.replace(/_/g, "-");
      }
      set("run-started", r.started);
      set("run-finished", r.finished);
      set("run-duration", r.duration);
      set("run-worker", r.worker_id || "");
      set("run-attempt", r.attempt + " of " + r.max_attempts);
      var errPanel = document.getElementById("run-error-panel");
      if (errPanel) {
        errPanel.hidden = !r.error;
        set("run-error", r.error || "");
      }
      if (out && out.textContent !== r.output) {
        var atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
        out.textContent = r.output;
        if (atBottom) out.scrollTop = out.scrollHeight;
      }
      root.setAttribute("data-state", r.state);
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
        .then(function (resp) {
          if (!resp.ok) throw new Error("HTTP " + resp.status);
          return resp.json();
        })
        .then(function (r) {
          failures = 0;
          update(r);
          if (r.terminal) {
            if (followStatus) followStatus.textContent = "Finished.";
            var cancel = document.getElementById("cancel-form");
            if (cancel) cancel.hidden = true;
            root.setAttribute("data-finished", "1");
            return;
          }
          setTimeout(poll, 1000);
        })
        .catch(function () {
          failures++;
          if (followStatus) followStatus.textContent = "Connection lost; retrying…";
          setTimeout(poll, Math.min(1000 * Math.pow(2, failures), 15000));
        });
    }
    setTimeout(poll, 1000);
  }
})();
