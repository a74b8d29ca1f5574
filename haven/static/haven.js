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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusErrorSummary);
  } else {
    focusErrorSummary();
  }
  guardDoubleSubmit();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", printButtons);
  } else {
    printButtons();
  }
})();
