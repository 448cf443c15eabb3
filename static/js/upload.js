// Upload page: drag and drop, one request per file, each file with its own progress bar and result.
// A rejected file shows its error (bar reset, marked failed); the name is said once, the reason after it.
// No inline scripts (CSP script-src 'self'); without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("id_files");
  var zone = document.getElementById("dropzone");
  var status = document.getElementById("upload-status");
  var dropped = [];

  function files() {
    return dropped.length ? dropped : Array.prototype.slice.call(input.files);
  }

  function badge(ok, text) {
    var span = document.createElement("span");
    span.className = "badge " + (ok ? "badge-ok" : "badge-bad");
    span.textContent = text;
    return span;
  }

  // One row per file: name, then a progress bar while it is sent, then its result.
  function row(file, withProgress) {
    var item = document.createElement("li");
    item.className = "upload-result";
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    item.appendChild(name);
    var message = document.createElement("span");
    message.className = "upload-message";
    item.appendChild(message);
    if (withProgress) {
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Uploading " + file.name);
      item.appendChild(bar);
      item.bar = bar;
    }
    item.message = message;
    status.appendChild(item);
    return item;
  }

  function finish(item, ok, text, url) {
    item.className = "upload-result " + (ok ? "ok" : "failed");
    if (item.bar) {
      item.bar.value = ok ? 100 : 0;
      item.bar.hidden = true;
    }
    item.insertBefore(badge(ok, ok ? "Uploaded" : "Not uploaded"), item.message);
    item.message.textContent = ok ? "" : text;
    if (url) {
      var link = document.createElement("a");
      link.href = url;
      link.textContent = ok ? "Open" : "See the existing document";
      item.appendChild(link);
    }
  }

  function send(file) {
    var item = row(file, true);
    return new Promise(function (resolve) {
      var data = new FormData(form);
      data.delete("files");
      data.append("files", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      xhr.upload.addEventListener("progress", function (event) {
        // Sent is not accepted: the bar stops short of full until the server has said yes.
        if (event.lengthComputable) item.bar.value = Math.min(95, Math.round((event.loaded / event.total) * 95));
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        var result = body && body.results ? body.results[0] : null;
        if (result) {
          finish(item, result.ok, result.message, result.url);
        } else {
          finish(item, false, (body && body.message) || "The upload failed (" + xhr.status + "). Try again.", null);
        }
        resolve(Boolean(result && result.ok));
      });
      xhr.addEventListener("error", function () {
        finish(item, false, "The connection failed. Try again.", null);
        resolve(false);
      });
      xhr.send(data);
    });
  }

  form.addEventListener("submit", function (event) {
    var list = files();
    if (!list.length) return;
    event.preventDefault();
    status.textContent = "";
    var chain = Promise.resolve();
    list.forEach(function (file) {
      chain = chain.then(function () { return send(file); });
    });
    chain.then(function () {
      dropped = [];
      form.reset();
      input.required = true;
    });
  });

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropped = Array.prototype.slice.call(event.dataTransfer.files);
    input.required = false;
    status.textContent = "";
    dropped.forEach(function (file) {
      row(file, false).message.textContent = "Ready to upload.";
    });
  });
})();
