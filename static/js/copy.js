// Copy buttons: <button data-copy-target="#id"> copies that field's value and says so in the
// .copy-field's .copy-status (role=status, announced). The buttons are rendered hidden and shown
// here, so a page without JavaScript never offers a button that does nothing. No inline scripts (CSP).
(function () {
  "use strict";
  var timers = new WeakMap();

  function say(status, text) {
    if (!status) return;
    status.textContent = "";
    // A fresh text node after clearing makes screen readers announce a repeated "Copied".
    window.setTimeout(function () { status.textContent = text; }, 50);
    window.clearTimeout(timers.get(status));
    timers.set(status, window.setTimeout(function () { status.textContent = ""; }, 5000));
  }

  function fallback(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (e) {
      return false;
    }
  }

  function copy(button) {
    var field = document.querySelector(button.getAttribute("data-copy-target"));
    if (!field) return;
    var box = button.closest(".copy-field");
    var status = box ? box.querySelector(".copy-status") : null;
    var value = field.value !== undefined ? field.value : field.textContent;
    function done() { say(status, "Copied"); }
    function failed() {
      say(status, fallback(field) ? "Copied" : "Selected: press Ctrl+C (⌘C on a Mac) to copy");
    }
    if (navigator.clipboard && window.isSecureContext) {
      // A clipboard that never answers (a busy or unfocused browser) must not leave the person
      // with no word at all: after 2 s the field is selected for copying by hand instead.
      var settled = false;
      var once = function (then) { return function () { if (!settled) { settled = true; then(); } }; };
      navigator.clipboard.writeText(value).then(once(done), once(failed));
      window.setTimeout(once(failed), 2000);
    } else {
      failed();
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-copy-target]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
  // A click in a read-only link field selects it whole, ready to copy by hand.
  Array.prototype.forEach.call(document.querySelectorAll(".copy-field input[readonly]"), function (field) {
    field.addEventListener("focus", function () { field.select(); });
  });
})();
