// The console works without this file; it adds two things that earn their
// place: the alert list refreshes itself when a new alert arrives (short
// polling of one small JSON answer every 10 s), and buttons that close or
// revoke ask for a confirmation first.
(function () {
  "use strict";

  document.addEventListener("submit", function (ev) {
    var b = ev.submitter;
    var msg = b && b.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  var list = document.getElementById("alerts");
  if (!list || !list.getAttribute("data-poll")) {
    return;
  }
  var url = list.getAttribute("data-poll");
  var busy = false;
  function poll() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (!j || j.version === list.getAttribute("data-version")) {
          return null;
        }
        return fetch(window.location.href, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html) {
              return;
            }
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.getElementById("alerts");
            if (fresh) {
              list.innerHTML = fresh.innerHTML;
              list.setAttribute("data-version", fresh.getAttribute("data-version"));
              var note = document.getElementById("alerts-fresh");
              if (note) {
                note.hidden = false;
              }
            }
          });
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  var every = parseInt(list.getAttribute("data-interval"), 10) || 10000;
  setInterval(poll, every);
  document.addEventListener("visibilitychange", poll);
})();
