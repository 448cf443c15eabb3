// Upload page: drag and drop, one request per file with a progress bar, results as they land.
// No inline scripts (CSP script-src 'self'); without JavaScript the form posts normally.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("id_files");
  var zone = document.getElementById("dropzone");
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var dropped = [];

  function files() {
    return dropped.length ? dropped : Array.prototype.slice.call(input.files);
  }

  function show(name, ok, message, url) {
    var item = document.createElement("li");
    item.className = ok ? "ok" : "failed";
    item.textContent = name + ": " + message + " ";
    if (url) {
      var link = document.createElement("a");
      link.href = url;
      link.textContent = ok ? "Open" : "See it";
      item.appendChild(link);
    }
    status.appendChild(item);
  }

  function send(file, total, done) {
    return new Promise(function (resolve) {
      var data = new FormData(form);
      data.delete("files");
      data.append("files", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          progress.value = Math.round(((done + event.loaded / event.total) / total) * 100);
        }
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        var result = body && body.results ? body.results[0] : null;
        if (result) {
          show(file.name, result.ok, result.ok ? "uploaded." : result.message, result.url);
        } else {
          show(file.name, false, (body && body.message) || "the upload failed (" + xhr.status + ").", null);
        }
        resolve();
      });
      xhr.addEventListener("error", function () {
        show(file.name, false, "the connection failed; try again.", null);
        resolve();
      });
      xhr.send(data);
    });
  }

  form.addEventListener("submit", function (event) {
    var list = files();
    if (!list.length) return;
    event.preventDefault();
    status.textContent = "";
    progress.hidden = false;
    progress.value = 0;
    var chain = Promise.resolve();
    list.forEach(function (file, index) {
      chain = chain.then(function () { return send(file, list.length, index); });
    });
    chain.then(function () {
      progress.value = 100;
      dropped = [];
      form.reset();
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
    dropped.forEach(function (file) { show(file.name, true, "ready to upload.", null); });
  });
})();
