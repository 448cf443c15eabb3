// Times in the viewer's own time zone. The server prints UTC with its zone
// (<time datetime="2026-12-06T09:40:00+00:00" data-local>6 Dec 2026, 09:40 UTC</time>),
// which stays as it is without JavaScript; here it is rewritten in local time, and the
// UTC text is kept as the element's title. data-local="time" shows the time of day only.
(function () {
  "use strict";

  function format(element) {
    const when = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) return;
    const options = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
    if (element.dataset.local !== "time") {
      options.day = "numeric";
      options.month = "short";
      options.year = "numeric";
    }
    let text;
    try {
      text = new Intl.DateTimeFormat(undefined, options).format(when);
    } catch (e) {
      return;
    }
    if (!element.title) element.title = element.textContent.trim();
    element.textContent = text;
  }

  function formatAll(root) {
    (root || document).querySelectorAll("time[data-local][datetime]").forEach(format);
  }

  window.docuidLocalTime = formatAll;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { formatAll(); });
  } else {
    formatAll();
  }
})();
