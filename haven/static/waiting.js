// The waiting page's helper. It works out the visitor's place and wait by itself from the public room
// state (the same cached document for everyone, fetched without cookies, so a crowd polling it costs
// Haven about one request a second) and the visitor's number, which the page carries. It asks Haven
// about the visitor only when the turn is near (that check is held until the turn comes) and then goes
// on to where the visitor was going. It says the place in the status region (announced by screen
// readers, focus never moved), at most once every 30 seconds. The page works without it: the "Check
// your place" button asks Haven by hand.
(function () {
  "use strict";
  var regions = document.querySelectorAll("[data-waiting-status]");
  if (!regions.length || !window.fetch || !window.JSON) {
    return;
  }
  var first = regions[0];
  var statusUrl = first.getAttribute("data-status-url");
  var stateUrl = first.getAttribute("data-state-url");
  var next = first.getAttribute("data-continue") || "/";
  var state = first.getAttribute("data-state");
  var number = readNumber(first.getAttribute("data-number"));
  var columns = [];
  for (var i = 0; i < regions.length; i++) {
    columns.push({
      field: regions[i].querySelector("[data-field=summary]"),
      words: JSON.parse(regions[i].getAttribute("data-words") || "{}"),
    });
  }
  if (state === "your-turn" || state === "not-queueing" || state === "lapsed") {
    return; // nothing to wait for: the page's button (or link) says what to do
  }
  if (state === "working") {
    work(first);
    return;
  }

  // The ETA rule, as in haven/shield/eta.py: null when the line does not move.
  var STILL = 0.001;
  var HOLD_WITHIN = 10;
  var QUIET = 30000; // milliseconds between two announcements, but for "it is your turn"
  var personalWithoutNumber = false; // the server did not say the number: ask it, as pages used to

  function readNumber(text) {
    var value = parseInt(text || "", 10);
    return isNaN(value) ? null : value;
  }

  function waitRange(ahead, speedLow, speedHigh, tick) {
    if (ahead <= 0) {
      return [0, 0];
    }
    if (speedLow < STILL) {
      return null;
    }
    return [ahead / speedHigh, ahead / speedLow + tick];
  }

  function dueSoon(high) {
    return high >= 0 && high <= HOLD_WITHIN;
  }

  // Seconds, give or take a fifth, so that a crowd's checks never fall in step.
  function jittered(seconds) {
    return seconds * (0.8 + Math.random() * 0.4);
  }

  function slowly() {
    return 30 + Math.random() * 30; // a line that does not move, or an event not open yet
  }

  function later(action, seconds) {
    window.setTimeout(action, Math.max(0.5, seconds) * 1000);
  }

  // The words, in each column's language ------------------------------------------------------------

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function grouped(value, words) {
    return String(value).replace(/\B(?=(\d{3})+(?!\d))/g, words.group);
  }

  // As pages.duration: whole minutes up to 89, then hours to one decimal.
  function duration(seconds, words) {
    var minutes = Math.max(1, Math.ceil(seconds / 60));
    if (minutes < 90) {
      return minutes === 1 ? words.minute : fill(words.minutes, { n: grouped(minutes, words) });
    }
    var hours = Math.floor(minutes / 6 + 0.5) / 10;
    return fill(words.hours, { n: String(hours).replace(".", words.decimal) });
  }

  function placeText(position, range) {
    return function (words) {
      var shown = grouped(position, words);
      if (range === null) {
        return fill(words.still, { position: shown });
      }
      var low = duration(range[0], words);
      var high = duration(range[1], words);
      var eta = low === high ? fill(words.about, { time: high }) : fill(words.between, { low: low, high: high });
      return fill(words.waiting, { position: shown, eta: eta });
    };
  }

  // Announcements: only when the words change, and at most once every QUIET milliseconds (screen
  // readers read every change of the region out), but at once for the turn.
  var lastSaid = 0;
  var pending = null;
  var pendingTimer = null;

  function apply(texts) {
    for (var i = 0; i < columns.length; i++) {
      if (columns[i].field && columns[i].field.textContent !== texts[i]) {
        columns[i].field.textContent = texts[i];
      }
    }
    lastSaid = Date.now();
  }

  function say(make, urgent) {
    var texts = [];
    var changed = false;
    for (var i = 0; i < columns.length; i++) {
      texts.push(make(columns[i].words, i));
      changed = changed || (columns[i].field && columns[i].field.textContent !== texts[i]);
    }
    if (!changed) {
      pending = null;
      return;
    }
    var quietFor = Date.now() - lastSaid;
    if (urgent || quietFor >= QUIET) {
      pending = null;
      apply(texts);
      return;
    }
    pending = texts;
    if (pendingTimer === null) {
      pendingTimer = window.setTimeout(function () {
        pendingTimer = null;
        if (pending !== null) {
          apply(pending);
          pending = null;
        }
      }, QUIET - quietFor);
    }
  }

  function sayWord(key, urgent) {
    say(function (words) {
      return words[key] || "";
    }, urgent);
  }

  // Asking ----------------------------------------------------------------------------------------

  function retryAfter(response) {
    var seconds = parseInt(response.headers.get("Retry-After") || "30", 10);
    return isNaN(seconds) ? 30 : seconds;
  }

  // The public state: cookie-free, so that nginx or a CDN answers it for everyone at once.
  function poll() {
    window
      // "no-cache": the browser asks again each time (a 304 when nothing changed) rather than take a
      // copy it may keep a few seconds stale; nginx or the CDN in front answers either way.
      .fetch(stateUrl, { credentials: "omit", headers: { Accept: "application/json" }, cache: "no-cache" })
      .then(function (response) {
        if (response.status === 429 || response.status === 503) {
          later(poll, retryAfter(response));
          return null;
        }
        if (!response.ok) {
          later(poll, slowly());
          return null;
        }
        return response.json();
      })
      .then(function (room) {
        if (room) {
          follow(room);
        }
      })
      .catch(function () {
        later(poll, slowly()); // offline for a moment: the place is kept, try again
      });
  }

  var highest = -Infinity; // the highest serving number seen so far

  function follow(room) {
    if (room.status === "before-opening") {
      later(poll, slowly());
      return;
    }
    if (number === null) {
      ask(); // the event has opened: learn the place drawn for this visitor, once
      return;
    }
    // Each host publishes the line as its last tick read it, so two polls answered by two hosts may
    // differ by a tick: the page never shows the counter going back.
    highest = Math.max(highest, room.serving);
    var ahead = number - highest;
    if (ahead <= 0 || !room.queueing) {
      ask(); // the counter has passed the number, or nobody queues any more: claim the turn
      return;
    }
    var range = waitRange(ahead, room.speed_low, room.speed_high, room.tick_seconds);
    say(placeText(ahead, range), false);
    if (range === null) {
      later(poll, slowly());
    } else if (dueSoon(range[1])) {
      ask();
    } else {
      later(poll, jittered(Math.min(60, Math.max(2, range[0] / 10))));
    }
  }

  // The one personal request: held by Haven until the turn comes when it is near.
  function ask() {
    window
      .fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 429 || response.status === 503) {
          later(ask, retryAfter(response));
          return null;
        }
        return response.json();
      })
      .then(function (status) {
        if (status) {
          answered(status);
        }
      })
      .catch(function () {
        later(poll, slowly());
      });
  }

  function answered(status) {
    if (status.state === "your-turn" || status.state === "not-queueing") {
      sayWord(status.state === "your-turn" ? "turn" : "none", true);
      window.location.assign(next);
      return;
    }
    if (status.state === "lapsed") {
      sayWord("lapsed", true); // the "Check your place" button joins again
      return;
    }
    if (typeof status.number === "number") {
      number = status.number;
    }
    if (status.state === "before-opening") {
      later(poll, slowly());
      return;
    }
    if (number === null || personalWithoutNumber) {
      // Haven did not tell the number: go on asking it, when it says to.
      personalWithoutNumber = true;
      say(function (words, index) {
        var lang = regions[index].getAttribute("data-lang");
        return status.text && status.text[lang] ? status.text[lang].summary : columns[index].field.textContent;
      }, false);
      later(ask, status.check_again_seconds || 30);
      return;
    }
    later(poll, jittered(2));
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
    var attempt = 0;
    function tryOne() {
      var text = challenge + ":" + attempt;
      return window.crypto.subtle.digest("SHA-256", encoder.encode(text)).then(function (digest) {
        if (zeroBits(new Uint8Array(digest)) >= bits) {
          var query = (goingTo ? "next=" + encodeURIComponent(goingTo) + "&" : "") + "work=" + encodeURIComponent(text);
          window.location.replace(join + "?" + query);
          return null;
        }
        attempt += 1;
        return tryOne();
      });
    }
    tryOne();
  }

  // A first look soon after the page loads (the page's own words may be a few seconds old), then as
  // the line says.
  later(poll, state === "before-opening" ? slowly() : jittered(2));
})();
