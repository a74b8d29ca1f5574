// The waiting page's helper: checks the visitor's place now and then, says it in the status region
// (announced by screen readers, focus never moved) and goes on to Haven when it is their turn. The
// page works without it: the "Check your place" button does the same by hand.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-waiting-status]");
  if (!regions.length || !window.fetch) {
    return;
  }
  var first = regions[0];
  var url = first.getAttribute("data-status-url");
  var next = first.getAttribute("data-continue") || "/";
  var state = first.getAttribute("data-state");
  if (state === "your-turn" || state === "not-queueing") {
    return;
  }
  if (state === "working") {
    work(first);
    return;
  }

  // Spread everyone's checks out: the server suggests when, and each page adds its own jitter.
  function later(seconds) {
    var wait = Math.max(1, seconds) * (0.85 + Math.random() * 0.3);
    window.setTimeout(check, wait * 1000);
  }

  function show(texts) {
    for (var i = 0; i < regions.length; i++) {
      var lang = regions[i].getAttribute("data-lang");
      var field = regions[i].querySelector("[data-field=summary]");
      if (field && texts[lang] && field.textContent !== texts[lang].summary) {
        field.textContent = texts[lang].summary;
      }
    }
  }

  function check() {
    window
      .fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 429 || response.status === 503) {
          var retry = parseInt(response.headers.get("Retry-After") || "30", 10);
          later(isNaN(retry) ? 30 : retry);
          return null;
        }
        return response.json();
      })
      .then(function (status) {
        if (!status) {
          return;
        }
        show(status.text);
        if (status.state === "your-turn" || status.state === "not-queueing") {
          window.location.assign(next);
          return;
        }
        if (status.state === "lapsed") {
          return; // the button joins again
        }
        later(status.check_again_seconds);
      })
      .catch(function () {
        later(30); // offline for a moment: keep the place, try again
      });
  }

  // The proof-of-work some rooms ask before giving a place (HAVEN_JOIN_WORK): find a number such that
  // SHA-256("challenge:number") starts with the asked number of zero bits, then join with it.
  function zeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) {
        bits += 8;
        continue;
      }
      return bits + Math.clz32(bytes[i]) - 24;
    }
    return bits;
  }

  function work(region) {
    var challenge = region.getAttribute("data-challenge");
    var bits = parseInt(region.getAttribute("data-bits"), 10);
    var join = region.getAttribute("data-join");
    var goingTo = region.getAttribute("data-next");
    if (!window.crypto || !window.crypto.subtle || !window.TextEncoder) {
      return; // not a secure page: the text on the page says what to do
    }
    var encoder = new TextEncoder();
    var number = 0;
    function attempt() {
      var text = challenge + ":" + number;
      return window.crypto.subtle.digest("SHA-256", encoder.encode(text)).then(function (digest) {
        if (zeroBits(new Uint8Array(digest)) >= bits) {
          var query = (goingTo ? "next=" + encodeURIComponent(goingTo) + "&" : "") + "work=" + encodeURIComponent(text);
          window.location.replace(join + "?" + query);
          return null;
        }
        number += 1;
        return attempt();
      });
    }
    attempt();
  }

  later(parseFloat(first.getAttribute("data-check-again") || "5"));
})();
