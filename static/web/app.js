// The page's small behaviours, kept out of the HTML so the Content-Security-Policy can refuse
// every inline script and event-handler attribute. Each one is asked for by a data- attribute.
(function () {
  "use strict";
  // <select data-submit-on-change>: choosing is submitting (the language menu).
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-submit-on-change]");
    if (field && field.form) { field.form.submit(); }
  });
  // <input data-select-on-focus>: a value to copy (a feed address, a secret) is selected whole.
  document.addEventListener("focusin", function (event) {
    var field = event.target.closest("[data-select-on-focus]");
    if (field) { field.select(); }
  });
  // <button data-print>: print the page.
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) { window.print(); }
  });
  // Inside [data-swap-refusals], a 400 or 403 answer carries the row with its message: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 400 || status === 403) && event.target.closest("[data-swap-refusals]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
