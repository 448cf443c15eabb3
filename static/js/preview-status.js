// The open page while an Office file's PDF is being made (templates/documents/open.html):
// ask the small status endpoint (documents.views.document_view_status) whether it is ready,
// 1 s after load, then backing off to every 15 s; when it is ready (or has failed) the page
// reloads and shows the viewer (or the failure). Gives up after 15 minutes: the page keeps
// its "Refresh" link. Without JavaScript that link is the way.
(() => {
  "use strict";

  const box = document.querySelector("[data-preview-pending]");
  if (!box) return;
  const url = box.dataset.statusUrl;
  const started = Date.now();
  let delay = 1000;

  async function check() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const { state } = await response.json();
        if (state !== "pending") {
          box.dataset.state = state;
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // Offline for a moment: try again later.
    }
    if (Date.now() - started > 15 * 60 * 1000) return;
    delay = Math.min(delay * 2, 15000);
    setTimeout(check, delay);
  }

  setTimeout(check, delay);
})();
