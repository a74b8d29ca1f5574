// The operators' console: puts fresh figures in place every few seconds. Without this script the
// page is complete, and its "read the figures again" link reloads it.
(function () {
  "use strict";
  var box = document.getElementById("figures");
  if (!box || !window.fetch) { return; }
  var address = box.getAttribute("data-figures");
  var every = 5000;
  function refresh() {
    fetch(address, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== undefined) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          box.replaceChildren.apply(box, Array.prototype.slice.call(fresh.body.childNodes));
        }
      })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { window.setTimeout(refresh, every); });
  }
  window.setTimeout(refresh, every);
})();
