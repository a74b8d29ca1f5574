// Haven's progressive enhancement. Every page works without this file; it only smooths the way.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // After a failed submit, move focus to the error summary so screen readers announce it
  // (the summary links to each field with the problem).
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  }

  // A form submitted once shows that it is working and ignores a second press; the server is
  // idempotent anyway, this only spares people the doubt.
  function guardDoubleSubmit() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") {
        return;
      }
      if (form.dataset.submitted === "true") {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "true";
      // If the answer never comes, let the person try again.
      window.setTimeout(function () {
        delete form.dataset.submitted;
      }, 10000);
    });
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("form[data-submitted]").forEach(function (form) {
        delete form.dataset.submitted;
      });
    });
  }

  // A print view's button: only with this file can a button print, so only then is it shown.
  function printButtons() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        window.print();
      });
    });
  }

  // Follow-up questions, in place: a question that follows from earlier answers on the page shows
  // as soon as they call for it, by the rule the server asks by (data-shown-when). The list of
  // questions the page asked goes with the form, so that the server knows which ones were seen.
  function followUps() {
    var form = document.getElementById("answers");
    if (!form) {
      return;
    }
    var questions = form.querySelectorAll("[data-shown-when]");
    if (!questions.length) {
      return;
    }
    function valueOf(name) {
      var control = form.elements[name];
      if (!control) {
        return "";
      }
      if (typeof RadioNodeList !== "undefined" && control instanceof RadioNodeList) {
        return control.value;
      }
      if (control.type === "checkbox" || control.type === "radio") {
        return control.checked ? control.value : "";
      }
      return control.value;
    }
    function update() {
      questions.forEach(function (question) {
        var rule = JSON.parse(question.dataset.shownWhen);
        question.hidden = !rule.every(function (condition) {
          return condition[1].indexOf(valueOf(condition[0])) !== -1;
        });
      });
    }
    form.addEventListener("change", update);
    form.addEventListener("submit", function () {
      var asked = form.querySelector("input[name='asked']");
      if (!asked) {
        return;
      }
      var names = [];
      form.querySelectorAll("[data-field]").forEach(function (question) {
        if (!question.hidden) {
          names.push(question.dataset.field);
        }
      });
      asked.value = names.join(" ");
    });
    update();
  }

  // Five minutes before a signed-in session ends, a dialog says so and offers to stay signed in
  // (which asks the server to see the session). Every page of the session notes when it was
  // shown, so a person busy in another tab is not warned in this one.
  function sessionWarning() {
    var dialog = document.querySelector("[data-session-warning]");
    if (!dialog || typeof dialog.showModal !== "function") {
      return;
    }
    var key = "haven:session-seen";
    var span = Number(dialog.dataset.seconds) * 1000;
    var warn = Number(dialog.dataset.warn) * 1000;
    var left = dialog.querySelector("[data-session-left]");
    var stay = dialog.querySelector("[data-session-stay]");
    var close = dialog.querySelector("[data-session-close]");
    var seen = Date.now();
    var timer = null;

    function remember(moment) {
      seen = moment;
      try {
        window.localStorage.setItem(key, String(moment));
      } catch (error) {
        // Storage refused (a private window): this tab keeps its own count.
      }
    }
    function lastSeen() {
      try {
        return Math.max(seen, Number(window.localStorage.getItem(key)) || 0);
      } catch (error) {
        return seen;
      }
    }
    function open() {
      if (!dialog.open) {
        dialog.showModal();
      }
    }
    function ended() {
      window.clearTimeout(timer);
      dialog.querySelector("[data-session-title]").textContent =
        dialog.querySelector("[data-session-title]").dataset.endedTitle;
      left.hidden = true;
      dialog.querySelector("[data-session-ended]").hidden = false;
      stay.hidden = true;
      close.hidden = false;
      open();
      close.focus();
    }
    function check() {
      var remaining = lastSeen() + span - Date.now();
      if (remaining <= 0) {
        ended();
        return;
      }
      if (remaining > warn) {
        if (dialog.open) {
          dialog.close();
        }
        timer = window.setTimeout(check, remaining - warn);
        return;
      }
      var minutes = Math.max(1, Math.ceil(remaining / 60000));
      left.textContent = minutes === 1 ? left.dataset.one : left.dataset.many.replace("__N__", String(minutes));
      if (!dialog.open) {
        open();
        stay.querySelector("button").focus();
      }
      timer = window.setTimeout(check, Math.min(remaining, 15000));
    }
    function keep() {
      window.fetch(stay.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(stay)),
        headers: { "X-Haven-Stay": "1" },
        credentials: "same-origin"
      }).then(function (response) {
        if (response.status === 204) {
          remember(Date.now());
          window.clearTimeout(timer);
          dialog.close();
          check();
        } else if (response.status === 401) {
          ended();
        }
        // Any other answer (a busy server, the network): the dialog stays, to press again.
      }, function () {
        // No answer at all: the same.
      });
    }
    stay.addEventListener("submit", function (event) {
      event.preventDefault();
      keep();
    });
    // Escape closes the warning: the person is here, so it counts as staying signed in.
    dialog.addEventListener("cancel", function (event) {
      if (!stay.hidden) {
        event.preventDefault();
        keep();
      }
    });
    close.addEventListener("click", function () {
      dialog.close();
    });
    remember(seen);
    check();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusErrorSummary);
  } else {
    focusErrorSummary();
  }
  guardDoubleSubmit();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", printButtons);
    document.addEventListener("DOMContentLoaded", sessionWarning);
    document.addEventListener("DOMContentLoaded", followUps);
  } else {
    printButtons();
    sessionWarning();
    followUps();
  }
})();
