/* Conveyor's dashboard: the live stream, live fragments, relative times and confirmations.
 *
 * One EventSource per page reads /v1/events/stream (the session cookie signs it in). Each event
 * goes to the functions registered with Conveyor.onEvent(fn) and refreshes the elements that
 * ask for it:
 *   <div id="unique" data-live-url="/ui/..." data-live-job="<job id>"
 *        data-live-workflow="<workflow id>" data-live-types="job.succeeded,job.failed">
 * (every filter given must match; none: any event). The element is replaced by what its URL
 * answers (outerHTML), at most every 400 ms (data-live-every="<ms>" to change), keeping
 * ticked checkboxes.
 * A <tbody data-live-prepend="/ui/jobs/{id}/row?..."> gets a new row at the top for a job it
 * does not show yet, unless the checkbox named by data-pause-with is ticked.
 */
(function () {
  "use strict";
  var listeners = [];
  var pending = new Map();
  var lastId = null;
  var source = null;

  function matches(el, event) {
    var d = el.dataset;
    if (d.liveJob && d.liveJob !== event.job_id) return false;
    if (d.liveWorkflow && d.liveWorkflow !== event.workflow_id) return false;
    if (d.liveTypes) {
      var kind = event.type.split(".")[0] + ".*";
      var types = d.liveTypes.split(",");
      if (types.indexOf(event.type) < 0 && types.indexOf(kind) < 0 && types.indexOf("*") < 0) return false;
    }
    return true;
  }

  function checkedBoxes(el) {
    var kept = [];
    el.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) { kept.push(box.name + "=" + box.value); });
    return kept;
  }

  function replace(el, html) {
    var kept = checkedBoxes(el);
    var holder = document.createElement(el.tagName === "TR" ? "tbody" : "div");
    holder.innerHTML = html.trim();
    var fresh = holder.firstElementChild;
    if (!fresh) return;
    el.replaceWith(fresh);
    fresh.querySelectorAll("input[type=checkbox]").forEach(function (box) {
      if (kept.indexOf(box.name + "=" + box.value) >= 0) box.checked = true;
    });
    if (window.htmx) window.htmx.process(fresh);
    relativeTimes(fresh);
  }

  function fetchFragment(url) {
    return fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } }).then(function (r) {
      if (r.status === 401) { setState("offline", "signed out"); return null; }
      return r.ok ? r.text() : null;
    }).catch(function () { return null; });
  }

  function refresh(id) {
    var el = document.getElementById(id);
    if (!el || !el.dataset.liveUrl) { pending.delete(id); return; }
    var focused = document.activeElement;
    if (focused && focused !== document.body && el.contains(focused) && /^(INPUT|SELECT|TEXTAREA)$/.test(focused.tagName)) {
      pending.set(id, "running");  // not while the operator types in it: again in a moment
      setTimeout(function () { pending.delete(id); schedule(el); }, 1000);
      return;
    }
    pending.set(id, "running");
    fetchFragment(el.dataset.liveUrl).then(function (html) {
      var current = document.getElementById(id);
      if (html !== null && current) replace(current, html);
      var every = parseInt((current && current.dataset.liveEvery) || "400", 10);
      setTimeout(function () {
        var again = pending.get(id) === "dirty";
        pending.delete(id);
        if (again) refresh(id);
      }, every);
    });
  }

  function schedule(el) {
    if (!el.id) return;
    if (pending.has(el.id)) { pending.set(el.id, "dirty"); return; }
    refresh(el.id);
  }

  function prepend(tbody, event) {
    if (!event.job_id || document.getElementById("job-" + event.job_id)) return;
    var pause = tbody.dataset.pauseWith && document.getElementById(tbody.dataset.pauseWith);
    if (pause && pause.checked) return;
    var key = "new-" + event.job_id;
    if (pending.has(key)) return;
    pending.set(key, "running");
    fetchFragment(tbody.dataset.livePrepend.replace("{id}", event.job_id)).then(function (html) {
      pending.delete(key);
      if (document.getElementById("job-" + event.job_id)) return;
      var row = prependRow(tbody, html);
      if (!row) return;
      if (window.htmx) window.htmx.process(row);
      relativeTimes(row);
    });
  }

  /** Put the row a fragment holds at the top of a table body, marked as arrived, in place of
   * the "nothing yet" row; the row (null for an empty fragment). */
  function prependRow(tbody, html) {
    if (!html || !html.trim()) return null;
    var holder = document.createElement("tbody");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    if (!row) return null;
    row.classList.add("arrived");
    tbody.insertBefore(row, tbody.firstElementChild);
    var empty = tbody.querySelector("tr.empty-row");
    if (empty) empty.remove();
    return row;
  }

  function dispatch(event) {
    listeners.forEach(function (fn) {
      try { fn(event); } catch (err) { console.warn("live listener failed", err); }
    });
    document.querySelectorAll("[data-live-url]").forEach(function (el) { if (matches(el, event)) schedule(el); });
    document.querySelectorAll("tbody[data-live-prepend]").forEach(function (tbody) { prepend(tbody, event); });
  }

  function setState(state, text) {
    var badge = document.getElementById("live");
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = text || state;
  }

  function connect() {
    var url = document.body.dataset.stream;
    if (!url || !window.EventSource) return;
    var after = lastId !== null ? lastId : document.body.dataset.streamAfter;
    if (after !== undefined && after !== "") url += (url.indexOf("?") < 0 ? "?" : "&") + "after=" + after;
    source = new EventSource(url);
    source.onopen = function () { setState("live"); };
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) { setState("reconnecting"); return; }
      // The stream refused us: signed out (the session ended or its key was revoked), or down.
      fetch(window.location.href, { credentials: "same-origin", headers: { "HX-Request": "true" } }).then(function (r) {
        if (r.status === 401) { setState("offline", "signed out"); return; }
        setState("offline", "offline, retrying");
        setTimeout(connect, 5000);
      }).catch(function () {
        setState("offline", "offline, retrying");
        setTimeout(connect, 5000);
      });
    };
    (document.body.dataset.eventTypes || "").split(",").forEach(function (type) {
      if (!type) return;
      source.addEventListener(type, function (message) {
        lastId = message.lastEventId || lastId;
        setState("live");
        var event;
        try { event = JSON.parse(message.data); } catch (err) { return; }
        dispatch(event);
      });
    });
  }

  function relativeTimes(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-rel]").forEach(function (el) {
      var then = Date.parse(el.getAttribute("datetime"));
      if (isNaN(then)) return;
      var delta = (now - then) / 1000, span = Math.abs(delta), text;
      if (span >= 86400) text = Math.floor(span / 86400) + " d";
      else if (span >= 3600) text = Math.floor(span / 3600) + " h";
      else if (span >= 60) text = Math.floor(span / 60) + " m";
      else text = Math.floor(span) + " s";
      el.textContent = delta >= 0 ? text + " ago" : "in " + text;
    });
  }

  function selectedCount(button) {
    var form = button.form;
    if (!form) return 0;
    var name = button.dataset.count || "ids";
    return Array.prototype.filter.call(form.elements, function (el) { return el.name === name && el.checked; }).length;
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    var copy = target && target.closest("button[data-copy]");
    if (copy) {
      if (navigator.clipboard) navigator.clipboard.writeText(copy.dataset.copy).catch(function () {});
      copy.title = "Copied";
      return;
    }
    var button = target && target.closest("button[data-confirm]");
    if (!button) return;
    var count = selectedCount(button);
    if (button.hasAttribute("data-needs-selection") && count === 0) {
      e.preventDefault();
      window.alert("Select at least one first.");
      return;
    }
    if (!window.confirm(button.dataset.confirm.replace("{n}", String(count)))) e.preventDefault();
  });

  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!(box instanceof HTMLInputElement) || !box.hasAttribute("data-select-all") || !box.form) return;
    Array.prototype.forEach.call(box.form.elements, function (el) {
      if (el.name === box.dataset.selectAll) el.checked = box.checked;
    });
  });

  document.addEventListener("htmx:configRequest", function (e) {
    if (document.body.dataset.csrf) e.detail.headers["X-CSRF-Token"] = document.body.dataset.csrf;
  });

  window.Conveyor = {
    /** Call fn(event) with every event of the stream (parsed: id, type, job_id, workflow_id, data). */
    onEvent: function (fn) { listeners.push(fn); },
    /** Refresh a live element now (by id). */
    refresh: function (id) { var el = document.getElementById(id); if (el) schedule(el); },
    prependRow: prependRow
  };

  document.addEventListener("DOMContentLoaded", function () {
    relativeTimes();
    setInterval(relativeTimes, 5000);
    connect();
  });
})();
