// Destructive forms (<form data-confirm="Delete “X”? …">) ask first in a <dialog class="confirm-dialog">.
// Without JavaScript the same form's POST lacks confirm=yes, so the server answers with its
// confirmation page instead: nothing is ever destroyed in one click. No inline scripts (CSP).
(function () {
  "use strict";
  var dialog = null;
  var pending = null;
  var returnFocus = null;

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm-dialog";
    dialog.setAttribute("aria-labelledby", "confirm-dialog-text");
    var text = document.createElement("p");
    text.id = "confirm-dialog-text";
    var actions = document.createElement("div");
    actions.className = "actions";
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button-secondary";
    cancel.textContent = "Cancel";
    cancel.setAttribute("data-confirm-cancel", "");
    var go = document.createElement("button");
    go.type = "button";
    go.className = "button-danger";
    go.setAttribute("data-confirm-accept", "");
    actions.appendChild(cancel);
    actions.appendChild(go);
    dialog.appendChild(text);
    dialog.appendChild(actions);
    document.body.appendChild(dialog);
    cancel.addEventListener("click", function () { dialog.close("cancel"); });
    go.addEventListener("click", function () { dialog.close("confirm"); });
    // Escape fires "cancel" and closes the dialog; "close" handles every way out.
    dialog.addEventListener("close", function () {
      var form = pending;
      pending = null;
      if (dialog.returnValue === "confirm" && form) {
        var flag = document.createElement("input");
        flag.type = "hidden";
        flag.name = "confirm";
        flag.value = "yes";
        form.appendChild(flag);
        form.submit();
        return;
      }
      if (returnFocus && returnFocus.focus) returnFocus.focus();
    });
  }

  function ask(form, submitter) {
    if (!dialog) build();
    var button = submitter || form.querySelector("button[type=submit], button:not([type])");
    dialog.querySelector("#confirm-dialog-text").textContent = form.getAttribute("data-confirm");
    dialog.querySelector("[data-confirm-accept]").textContent =
      form.getAttribute("data-confirm-action") || (button ? button.textContent.trim() : "Confirm");
    pending = form;
    returnFocus = button || document.activeElement;
    dialog.returnValue = "";
    dialog.showModal();
    // The safe choice has the focus: Enter or Space on an unread dialog cancels.
    dialog.querySelector("[data-confirm-cancel]").focus();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (typeof HTMLDialogElement === "undefined") return; // old browser: the server's page asks instead
    event.preventDefault();
    ask(form, event.submitter);
  });
})();
