// Counts each running SLA clock down every second and colours it as it nears or passes its due time.
// The server renders the same text and colours, so the page is right without this script too.
(function () {
  "use strict";
  var words = { left: "left", breached: "Breached", d: "d", h: "h", min: "min", s: "s" };
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function format(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600);
    var m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    if (d) { return d + " " + words.d + " " + h + " " + words.h; }
    if (h) { return h + " " + words.h + " " + two(m) + " " + words.min; }
    return m + " " + words.min + " " + two(s) + " " + words.s;
  }
  function tick() {
    var translated = document.body.dataset;  // the page's language, from base.html
    ["left", "breached", "d", "h", "min", "s"].forEach(function (key) {
      if (translated["sla" + key.charAt(0).toUpperCase() + key.slice(1)]) { words[key] = translated["sla" + key.charAt(0).toUpperCase() + key.slice(1)]; }
    });
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.due) - now) / 1000);
      var target = parseInt(el.dataset.target, 10) || 1;
      var level = left <= 0 ? "breached" : left <= target / 4 ? "warning" : "ok";
      el.className = "sla sla-" + level;
      el.textContent = level === "breached" ? "■ " + words.breached
        : (level === "warning" ? "▲ " : "") + format(left) + " " + words.left;
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
