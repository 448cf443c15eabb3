// Waiting page: poll the status; on approval the page itself completes the sign-in.
const box = document.getElementById("waiting");
const statusLine = document.getElementById("wait-status");
const seconds = Number(box.dataset.pollSeconds || 2);

async function poll() {
  try {
    const response = await fetch(box.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" });
    const data = await response.json();
    if (data.status === "pending") {
      window.setTimeout(poll, seconds * 1000);
      return;
    }
    if (data.message) statusLine.textContent = data.message;
    // Approved or ended: the waiting page signs in (approved) or explains what happened.
    window.location.reload();
  } catch (e) {
    window.setTimeout(poll, seconds * 2000);
  }
}

window.setTimeout(poll, seconds * 1000);
