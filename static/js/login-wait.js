// Waiting page: poll the status; on approval the page itself completes the sign-in.
// A live countdown runs to the request's expiry; at zero the page says so and offers
// "Try again" at once instead of minutes of "Waiting…" for a phone that never answers.
const box = document.getElementById("waiting");
const statusLine = document.getElementById("wait-status");
const countdown = document.getElementById("wait-countdown");
const seconds = Number(box.dataset.pollSeconds || 2);
// From the server's clock (seconds left when the page was made), not the browser's.
const deadline = performance.now() + Number(countdown.dataset.secondsLeft || 0) * 1000;
let pollTimer = null;
let ended = false;

function remaining() {
  return Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
}

function render(left) {
  const minutes = Math.floor(left / 60);
  const rest = String(left % 60).padStart(2, "0");
  countdown.textContent = `${minutes}:${rest}`;
  countdown.setAttribute("aria-label", minutes ? `${minutes} min ${left % 60} s` : `${left} seconds`);
}

function showExpired() {
  if (ended) return;
  ended = true;
  document.getElementById("wait-pending").hidden = true;
  document.getElementById("wait-expired").hidden = false;
  // One last look: an approval in the final second still signs in, and the server
  // page for the expired request replaces this one.
  window.clearTimeout(pollTimer);
  poll();
}

function tick() {
  const left = remaining();
  render(left);
  if (left <= 0) {
    showExpired();
    return;
  }
  // Next when the shown second changes: just past the next whole second before the deadline.
  window.setTimeout(tick, ((deadline - performance.now()) % 1000) + 20);
}

async function poll() {
  try {
    const response = await fetch(box.dataset.statusUrl, { credentials: "same-origin", cache: "no-store" });
    const data = await response.json();
    if (data.status === "pending") {
      if (!ended) pollTimer = window.setTimeout(poll, seconds * 1000);
      return;
    }
    if (data.message) statusLine.textContent = data.message;
    // Approved or ended: the waiting page signs in (approved) or explains what happened.
    window.location.reload();
  } catch (e) {
    if (!ended) pollTimer = window.setTimeout(poll, seconds * 2000);
  }
}

tick();
pollTimer = window.setTimeout(poll, seconds * 1000);
